"""The routing contract names what the app's migrations create: tables, column, setting, roles.

Each migration runs against a recorder of its SQL (alembic's `op`, with every old column
present), in the mode the app's Alembic environment gives it.
"""

import importlib.util
import types
from pathlib import Path
from typing import Any

import pytest

import app_plane
from tenantry_core import routing

VERSIONS = Path(app_plane.__file__).parent / "migrations" / "versions"


class RecordedOp:
    """alembic's `op` for one migration: keeps each statement, whitespace folded."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def execute(self, statement: str) -> None:
        self.sql.append(" ".join(statement.split()))

    def get_bind(self) -> "OldColumnsPresent":
        return OldColumnsPresent()


class OldColumnsPresent:
    """A connection whose information_schema finds every column asked about."""

    def execute(self, *_: Any) -> "OldColumnsPresent":
        return self

    def first(self) -> tuple[int]:
        return (1,)


def run(migration: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    spec = importlib.util.spec_from_file_location(f"migration_{migration}", VERSIONS / migration)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    op = RecordedOp()
    config = types.SimpleNamespace(attributes={"mode": mode})
    monkeypatch.setattr(module, "op", op)
    monkeypatch.setattr(module, "context", types.SimpleNamespace(config=config))
    module.upgrade()
    return op.sql


def test_the_tenant_column_and_setting_are_those_0004_renames_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sql = run("0004_tenant_key.py", "pool", monkeypatch)
    column, setting = routing.TENANT_COLUMN, routing.TENANT_SETTING
    for table in (routing.ROUTING_TABLE, routing.USAGE_TABLE, "projects", "notes"):
        assert f"ALTER TABLE {table} RENAME COLUMN tenant_id TO {column}" in sql
    for table in ("projects", "notes"):
        default = f"current_setting('{setting}', true)"
        assert f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default}" in sql
    [guard] = [s for s in sql if s.startswith("CREATE OR REPLACE FUNCTION tenantry.tenant_for")]
    assert f"FROM {routing.ROUTING_TABLE} t" in guard
    assert f"WHERE t.{column} = nullif(current_setting('{setting}', true), '')" in guard


@pytest.mark.parametrize("mode", ["bridge", "silo"])
def test_a_dedicated_placements_policies_read_the_same_setting(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = run("0004_tenant_key.py", mode, monkeypatch)
    guard = f"nullif(current_setting('{routing.TENANT_SETTING}', true), '')"
    policies = [s for s in sql if s.startswith("CREATE POLICY tenant_isolation")]
    assert len(policies) == 2
    for policy in policies:
        assert f"USING ({routing.TENANT_COLUMN} = {guard})" in policy
    pool_only = ("ALTER TABLE tenantry.", "CREATE OR REPLACE FUNCTION")
    assert not [s for s in sql if s.startswith(pool_only)], "only the pool has those"


@pytest.mark.parametrize(
    ("migration", "table"),
    [
        ("0001_pool_tables.py", routing.ROUTING_TABLE),
        ("0002_tier_features.py", routing.TIER_FEATURES_TABLE),
        ("0003_usage.py", routing.USAGE_TABLE),
        ("0006_principals_and_limits.py", routing.PRINCIPALS_TABLE),
        ("0006_principals_and_limits.py", routing.TIER_LIMITS_TABLE),
        ("0006_principals_and_limits.py", routing.RATE_LIMITS_TABLE),
    ],
)
def test_the_pools_tables_are_those_the_migrations_create(
    migration: str, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = run(migration, "pool", monkeypatch)
    assert any(s.startswith(f"CREATE TABLE {table} (") for s in sql)
    assert any(s.startswith("GRANT") and s.endswith(f"TO {routing.APP_ROLE}") for s in sql)


def test_the_fence_class_is_a_positive_int4() -> None:
    # pg_advisory_xact_lock_shared(int4, int4): the first key must fit.
    assert 0 < routing.FENCE_CLASS < 2**31
