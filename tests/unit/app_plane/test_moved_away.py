"""A silo's dedicated replica refused by the copy its tenant moved away from answers 503 with
Retry-After (`main._tenant_transaction`: its clients retry on the replaced replicas);
elsewhere such an error stays an error."""

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from app_plane import main, settings

SILO = "postgresql://tnt_acme:pw@127.0.0.1:5432/tenant_acme"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    settings.get_settings.cache_clear()
    yield
    settings.get_settings.cache_clear()


def refused(error: Exception) -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError("INSERT INTO notes ...", {}, error)


@pytest.fixture
def dedicated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTRY_APP_DATABASE_URL", raising=False)
    monkeypatch.setenv("TENANTRY_TENANT_DATABASE_URL", SILO)
    monkeypatch.setenv("TENANTRY_TENANT_KEY", "acme")
    monkeypatch.setenv("JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----")


@pytest.mark.usefixtures("dedicated")
def test_a_dedicated_replica_refused_by_its_old_copy_asks_to_retry() -> None:
    assert main.moved_away(refused(psycopg.errors.InsufficientPrivilege("permission denied")))
    assert not main.moved_away(refused(psycopg.errors.UniqueViolation("duplicate key")))


def test_the_shared_app_keeps_a_refusal_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTRY_TENANT_DATABASE_URL", raising=False)
    monkeypatch.setenv("TENANTRY_APP_DATABASE_URL", "postgresql://app@127.0.0.1/pool")
    monkeypatch.setenv("JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----")
    assert not main.moved_away(refused(psycopg.errors.InsufficientPrivilege("denied")))
