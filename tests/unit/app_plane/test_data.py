"""The app plane's database engines take their pool size and prepared-statement use from the
settings (app_plane.data); no connection is opened. Behind PgBouncer:
tests/integration/test_pgbouncer.py."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app_plane import data, settings

POOL = "postgresql://tenantry_app:pw@127.0.0.1:6432/tenantry_pool"


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TENANTRY_TENANT_DATABASE_URL", raising=False)
    monkeypatch.setenv("TENANTRY_APP_DATABASE_URL", POOL)
    monkeypatch.setenv("JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----")
    settings.get_settings.cache_clear()
    yield
    settings.get_settings.cache_clear()


def test_engines_take_the_pool_size_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTRY_DB_POOL_SIZE", "4")
    monkeypatch.setenv("TENANTRY_DB_MAX_OVERFLOW", "2")
    pool = data._engine(POOL).pool
    assert isinstance(pool, sa.QueuePool)
    assert (pool.size(), pool._max_overflow) == (4, 2)


def test_prepared_statements_are_off_only_when_the_settings_say_so() -> None:
    assert data.connect_args(prepared=True) == {}
    assert data.connect_args(prepared=False) == {"prepare_threshold": None}
