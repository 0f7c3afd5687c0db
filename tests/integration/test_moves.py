"""Live moves into and out of bridge while the app keeps serving: pool → bridge → silo → bridge
→ pool with 0 errors and 0 lost writes, the source purged or kept per deletionPolicy, a
verification failure that rolls back (`test_moves_killed`: an operator killed at every step)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.integration import moving, support

pytestmark = pytest.mark.integration


def schema(name: str) -> str:
    return "tenant_" + name.replace("-", "_")


def pool_rows(pool_admin: psycopg.Connection[Any], name: str) -> int:
    found = pool_admin.execute(
        "SELECT count(*) FROM public.notes WHERE tenant_key = %s", (name,)
    ).fetchone()
    return int(found[0]) if found else 0


def has_schema(pool_admin: psycopg.Connection[Any], name: str) -> bool:
    found = pool_admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema(name),))
    return found.fetchone() is not None


def has_silo(pool_admin: psycopg.Connection[Any], name: str) -> bool:
    database = "tenant_" + name.replace("-", "_")
    found = pool_admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
    return found.fetchone() is not None


def routed(pool_admin: psycopg.Connection[Any], name: str) -> tuple[Any, ...] | None:
    return pool_admin.execute(
        "SELECT placement, schema_name FROM tenantry.tenants WHERE tenant_key = %s", (name,)
    ).fetchone()


def completed(tenant: dict[str, Any], source: str, target: str) -> None:
    migration = tenant["status"]["migration"]
    assert (migration["phase"], migration["source"], migration["target"]) == (
        "Completed",
        source,
        target,
    ), migration
    assert migration["writeBlockMs"] is not None
    assert migration["writeBlockMs"] < 1000
    assert tenant["status"]["placement"] == target
    assert support.condition(tenant, "Migrating")["status"] == "False"
    assert support.condition(tenant, "MigrationRequired")["status"] == "False"


@pytest.fixture
def writer(
    app: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> Iterator[tuple[str, moving.Writer]]:
    name, running = moving.start_writer(app, env, custom)
    yield name, running
    running.finish()


def test_pool_bridge_silo_bridge_pool_while_writing(
    writer: tuple[str, moving.Writer],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name, running = writer
    running.writes_flow()

    to_bridge = moving.migrate(custom, name, "pro")
    completed(to_bridge, "pool", "bridge")
    assert routed(pool_admin, name) == ("bridge", schema(name))
    assert pool_rows(pool_admin, name) == 0, "the pool copy is purged"
    reasons = [e.reason for e in support.events_for(core, name)]
    for step in ("Provisioning", "Copying", "CatchingUp", "Switching", "CleaningUp", "Completed"):
        assert f"Migration{step}" in reasons
    assert moving.replication_leftovers(pool_admin, name) == []
    running.writes_flow()

    to_silo = moving.migrate(custom, name, "enterprise")
    completed(to_silo, "bridge", "silo")
    assert routed(pool_admin, name) == ("silo", "public")
    assert not has_schema(pool_admin, name), "the bridge schema is purged"
    assert moving.replication_leftovers(pool_admin, name) == []
    running.writes_flow()

    back_to_bridge = moving.migrate(custom, name, "pro")
    completed(back_to_bridge, "silo", "bridge")
    assert routed(pool_admin, name) == ("bridge", schema(name))
    assert not has_silo(pool_admin, name), "the silo is purged"
    running.writes_flow()

    to_pool = moving.migrate(custom, name, "free")
    completed(to_pool, "bridge", "pool")
    assert routed(pool_admin, name) == ("pool", "public")
    assert not has_schema(pool_admin, name)
    running.writes_flow()
    running.finish()
    assert running.reads > 20
    assert pool_rows(pool_admin, name) == moving.SEEDED + len(running.acked)
    moving.assert_nothing_lost(app, running)
    assert moving.replication_leftovers(pool_admin, name) == []


def test_retained_sources_are_kept_frozen_and_a_move_back_replaces_them(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name, running = moving.start_writer(app, env, custom, prefix="keeper", policy="Retain")
    try:
        running.writes_flow()
        completed(moving.migrate(custom, name, "pro"), "pool", "bridge")
        kept = pool_rows(pool_admin, name)
        assert kept >= moving.SEEDED, "the pool copy is kept (deletionPolicy Retain)"
        running.writes_flow()

        completed(moving.migrate(custom, name, "free"), "bridge", "pool")
        assert has_schema(pool_admin, name), "the bridge copy is kept"
        # The kept bridge copy is frozen: the tenant's own role may read it, not change it.
        with psycopg.connect(support.secret_url(core, name)) as conn:
            conn.execute("SELECT set_config('tenantry.tenant_key', %s, true)", (name,))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f'DELETE FROM "{schema(name)}".notes')
        running.writes_flow()
    finally:
        running.finish()
    # The pool's stale copy of the first move was replaced, not merged: no row twice, none lost.
    assert pool_rows(pool_admin, name) == moving.SEEDED + len(running.acked)
    moving.assert_nothing_lost(app, running)
    assert moving.replication_leftovers(pool_admin, name) == []


def test_verification_failure_of_a_bridge_move_rolls_back(
    writer: tuple[str, moving.Writer],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name, running = writer
    completed(moving.migrate(custom, name, "pro"), "pool", "bridge")
    # Sabotage the way back: rows of this tenant arriving in the pool get altered, so the
    # target never equals the source.
    function = f"corrupt_{name.replace('-', '_')}"
    pool_admin.execute(f"""
        CREATE FUNCTION public.{function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.tenant_key = '{name}' THEN NEW.title := NEW.title || '!'; END IF;
        RETURN NEW; END $$""")
    pool_admin.execute(
        f"CREATE TRIGGER {function} BEFORE INSERT OR UPDATE ON public.notes "
        f"FOR EACH ROW EXECUTE FUNCTION public.{function}()"
    )
    pool_admin.execute(f"ALTER TABLE public.notes ENABLE ALWAYS TRIGGER {function}")
    try:
        failed = moving.migrate(custom, name, "free")
    finally:
        pool_admin.execute(f"DROP TRIGGER {function} ON public.notes")
        pool_admin.execute(f"DROP FUNCTION public.{function}()")
    migration = failed["status"]["migration"]
    assert (migration["phase"], migration["source"], migration["target"]) == (
        "Failed",
        "bridge",
        "pool",
    )
    assert "notes" in migration["message"]
    assert failed["status"]["placement"] == "bridge"
    assert routed(pool_admin, name) == ("bridge", schema(name)), "routing stays"
    assert support.condition(failed, "MigrationFailed")["reason"] == "VerificationFailed"
    assert support.condition(failed, "Ready")["status"] == "True"
    assert pool_rows(pool_admin, name) == 0, "the discarded target is empty"
    assert moving.replication_leftovers(pool_admin, name) == []
    assert [e for e in support.events_for(core, name) if e.reason == "MigrationFailed"]
    running.writes_flow()

    support.patch_tenant(custom, name, displayName="try again")
    completed(moving.migrate(custom, name, "free"), "bridge", "pool")
    running.finish()
    moving.assert_nothing_lost(app, running)
