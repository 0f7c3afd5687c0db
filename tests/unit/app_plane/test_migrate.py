"""`tenantry-migrate`: where each tenant's tables are, and a run that reports every tenant."""

import pytest
import typer
from typer.testing import CliRunner

from app_plane import migrate, upgrade
from tenantry_core import enums
from tenantry_core import schema as schema_contract

POOL = "postgresql://postgres@pool.db:5432/tenantry_pool"


def test_a_bridge_tenant_is_a_schema_of_the_pool() -> None:
    found = migrate.placement(
        POOL,
        tenant_key="acme",
        isolation=enums.Isolation.BRIDGE,
        schema="tenant_acme",
        host=None,
        port=None,
        database=None,
    )
    assert found == migrate.Placement("acme", enums.Isolation.BRIDGE, POOL, "tenant_acme")


def test_a_bridge_tenant_on_a_pool_shard_is_a_schema_of_that_shards_database() -> None:
    found = migrate.placement(
        "postgresql://admin:secret@pool.db:5432/tenantry_pool",
        tenant_key="acme",
        isolation=enums.Isolation.BRIDGE,
        schema="tenant_acme",
        host=None,
        port=None,
        database="tenantry_shard_b",
    )
    shard = "postgresql://admin:secret@pool.db:5432/tenantry_shard_b"
    assert found == migrate.Placement("acme", enums.Isolation.BRIDGE, shard, "tenant_acme")


@pytest.mark.parametrize(
    ("pool_url", "silo_url"),
    [
        (POOL, "postgresql://postgres@silo-2.db:5433/tenant_acme"),
        (
            "postgresql://admin:secret@pool.db/tenantry_pool",
            "postgresql://admin@silo-2.db:5433/tenant_acme",
        ),
        ("postgresql://pool.db/tenantry_pool", "postgresql://silo-2.db:5433/tenant_acme"),
    ],
)
def test_a_silo_tenant_is_its_own_database_reached_as_the_pools_user(
    pool_url: str, silo_url: str
) -> None:
    found = migrate.placement(
        pool_url,
        tenant_key="acme",
        isolation=enums.Isolation.SILO,
        schema="public",
        host="silo-2.db",
        port=5433,
        database="tenant_acme",
    )
    assert found == migrate.Placement("acme", enums.Isolation.SILO, silo_url, "public")


@pytest.fixture
def three_tenants(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Three placements at 0003; upgrading `broken` fails. Records each upgrade asked for."""
    todo = [
        migrate.Placement("acme", enums.Isolation.BRIDGE, POOL, "tenant_acme"),
        migrate.Placement("broken", enums.Isolation.SILO, "postgresql://x/tenant_broken", "public"),
        migrate.Placement("zeta", enums.Isolation.BRIDGE, POOL, "tenant_zeta"),
    ]
    revisions = {p.schema + p.url: "0003" for p in todo}
    upgraded: list[tuple[str, str, str]] = []

    def fake_upgrade(url: str, *, isolation: enums.Isolation, schema: str, revision: str) -> None:
        if "broken" in url:
            raise RuntimeError("relation notes does not exist\nCONTEXT: ...")
        upgraded.append((url, schema, revision))
        revisions[schema + url] = "0004"

    monkeypatch.setattr(migrate, "placements", lambda pool_url: todo)
    monkeypatch.setattr(migrate, "upgrade", fake_upgrade)
    monkeypatch.setattr(migrate, "current", lambda url, *, schema: revisions[schema + url])
    return upgraded


def test_every_tenant_is_tried_and_the_failed_ones_reported(
    three_tenants: list[tuple[str, str, str]],
) -> None:
    result = CliRunner().invoke(migrate.cli, ["--pool-url", POOL])
    assert result.exit_code == 1
    assert three_tenants == [(POOL, "tenant_acme", "head"), (POOL, "tenant_zeta", "head")]
    assert "[1/3] acme (bridge, tenant_acme): 0003 -> 0004" in result.output
    assert "[2/3] broken (silo, public): FAILED: relation notes does not exist" in result.output
    assert "2 migrated, 0 already current, 1 failed" in result.output
    assert "  failed: broken: relation notes does not exist" in result.output


def test_the_upgrade_command_takes_the_contracts_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, enums.Isolation, str, str]] = []

    def fake_upgrade(url: str, *, isolation: enums.Isolation, schema: str, revision: str) -> None:
        calls.append((url, isolation, schema, revision))

    monkeypatch.setattr(migrate, "upgrade", fake_upgrade)
    command = typer.Typer()
    command.command()(upgrade.main)
    argv = schema_contract.upgrade_argv([], enums.Isolation.BRIDGE, "tenant_acme", "0004")
    done = CliRunner().invoke(command, argv, env={schema_contract.URL_ENV: POOL})
    assert done.exit_code == 0, done.output
    assert calls == [(POOL, enums.Isolation.BRIDGE, "tenant_acme", "0004")]

    no_url = CliRunner().invoke(command, argv, env={schema_contract.URL_ENV: ""})
    assert no_url.exit_code == 2
    assert len(calls) == 1

    monkeypatch.setattr(migrate, "head", lambda: "0004")
    head = CliRunner().invoke(command, schema_contract.head_argv([]))
    assert (head.exit_code, head.output) == (0, "0004\n")


def test_placements_already_at_the_revision_are_not_counted_as_migrated(
    three_tenants: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate, "current", lambda url, *, schema: "0004")
    result = CliRunner().invoke(migrate.cli, ["--pool-url", POOL])
    assert "0 migrated, 2 already current, 1 failed" in result.output
