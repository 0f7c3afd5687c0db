"""The app plane's settings: the shared app or a silo tenant's dedicated app, never neither."""

import pathlib

import pydantic
import pytest

from app_plane import settings

MODE_VARIABLES = (
    "TENANTRY_APP_DATABASE_URL",
    "TENANTRY_TENANT_DATABASE_URL",
    "TENANTRY_TENANT_KEY",
    "TENANTRY_TENANT_TIER",
    "TENANTRY_TENANT_FEATURES",
)
POOL = "postgresql://tenantry_app:pw@127.0.0.1:5432/tenantry_pool"
SILO = "postgresql://tnt_acme:pw@127.0.0.1:5432/tenant_acme"


@pytest.fixture(autouse=True)
def no_mode_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MODE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----")


def test_the_shared_app_reads_the_pool() -> None:
    cfg = settings.AppSettings(TENANTRY_APP_DATABASE_URL=POOL)
    assert cfg.pool_url() == POOL
    assert cfg.TENANTRY_TENANT_DATABASE_URL is None


def test_a_dedicated_app_serves_its_tenant_from_its_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TENANTRY_TENANT_DATABASE_URL", SILO)
    monkeypatch.setenv("TENANTRY_TENANT_KEY", "acme")
    monkeypatch.setenv("TENANTRY_TENANT_TIER", "enterprise")
    monkeypatch.setenv("TENANTRY_TENANT_FEATURES", '["export", "sso"]')
    cfg = settings.AppSettings()
    assert (cfg.TENANTRY_TENANT_KEY, cfg.TENANTRY_TENANT_TIER) == ("acme", "enterprise")
    assert cfg.TENANTRY_TENANT_FEATURES == ["export", "sso"]


def test_a_dedicated_app_must_name_its_tenant() -> None:
    with pytest.raises(pydantic.ValidationError, match="TENANTRY_TENANT_KEY must name"):
        settings.AppSettings(TENANTRY_TENANT_DATABASE_URL=SILO)


def test_one_mode_or_the_other_is_required() -> None:
    with pytest.raises(pydantic.ValidationError, match="set TENANTRY_APP_DATABASE_URL"):
        settings.AppSettings()


def test_the_token_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_PUBLIC_KEY")
    with pytest.raises(pydantic.ValidationError, match="JWT_PUBLIC_KEY"):
        settings.AppSettings(TENANTRY_APP_DATABASE_URL=POOL)


def test_exports_run_in_the_shared_app_with_a_directory_and_a_link_secret(
    tmp_path: pathlib.Path,
) -> None:
    unsigned = settings.AppSettings(TENANTRY_APP_DATABASE_URL=POOL, TENANTRY_EXPORT_DIR=tmp_path)
    assert not unsigned.exports
    assert settings.AppSettings(
        TENANTRY_APP_DATABASE_URL=POOL,
        TENANTRY_EXPORT_DIR=tmp_path,
        TENANTRY_EXPORT_LINK_SECRET="k",
    ).exports
    dedicated = settings.AppSettings(
        TENANTRY_TENANT_DATABASE_URL=SILO,
        TENANTRY_TENANT_KEY="acme",
        TENANTRY_EXPORT_DIR=tmp_path,
        TENANTRY_EXPORT_LINK_SECRET="k",
    )
    assert not dedicated.exports


def test_the_database_pools_are_settings_with_bounds() -> None:
    cfg = settings.AppSettings(
        TENANTRY_APP_DATABASE_URL=POOL,
        TENANTRY_DB_POOL_SIZE=3,
        TENANTRY_DB_MAX_OVERFLOW=0,
        TENANTRY_DB_PREPARED_STATEMENTS=False,
    )
    assert (cfg.TENANTRY_DB_POOL_SIZE, cfg.TENANTRY_DB_MAX_OVERFLOW) == (3, 0)
    assert cfg.TENANTRY_DB_PREPARED_STATEMENTS is False
    with pytest.raises(pydantic.ValidationError, match="TENANTRY_DB_POOL_SIZE"):
        settings.AppSettings(TENANTRY_APP_DATABASE_URL=POOL, TENANTRY_DB_POOL_SIZE=0)
