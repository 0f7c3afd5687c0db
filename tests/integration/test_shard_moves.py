"""Live moves between servers of the same kind, under a continuous writer and reader through the
app plane: pool shard → pool shard, silo server → silo server, and bridge on one shard →
bridge on another, with cross-kind moves that honour the server they name (pool on a shard →
silo → silo on another server → pool on another shard); an unknown server is refused and
nothing moves."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import moving, support

pytestmark = pytest.mark.integration


@pytest.fixture
def databases(
    env: dict[str, str], pool_admin: psycopg.Connection[Any]
) -> Iterator[dict[str, psycopg.Connection[Any]]]:
    """Superuser connections to every pool shard of the local platform, by name."""
    declared = json.loads(env["TENANTRY_POOL_SHARDS"])
    conns = {name: psycopg.connect(url, autocommit=True) for name, url in declared.items()}
    yield {"main": pool_admin, **conns}
    for conn in conns.values():
        conn.close()


def moved(
    custom: client.CustomObjectsApi,
    name: str,
    placement: dict[str, str | None],
    timeout: float = 90,
) -> dict[str, Any]:
    """Merge `placement` into spec.placement (None removes a key) and wait until its move
    ended and the Tenant is Ready again."""
    support.patch_tenant(custom, name, placement=placement)

    def done() -> dict[str, Any] | None:
        tenant = support.get_tenant(custom, name) or {}
        status = tenant.get("status") or {}
        migration = status.get("migration") or {}
        current = status.get("observedGeneration") == tenant["metadata"]["generation"]
        finished = migration.get("phase") in ("Completed", "Failed")
        right = migration.get("generation") == tenant["metadata"]["generation"]
        return tenant if current and finished and right and status.get("phase") == "Ready" else None

    return eventually(done, timeout=timeout, what=f"{name} moved to {placement}")


def silo_databases(env: dict[str, str], database: str) -> set[str]:
    """The silo servers that hold `database`."""
    found = set()
    for server, url in json.loads(env["TENANTRY_SILO_SERVERS"]).items():
        with psycopg.connect(url, autocommit=True) as conn:
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            if conn.execute(query, (database,)).fetchone():
                found.add(server)
    return found


def digest(conn: psycopg.Connection[Any], name: str, schema: str) -> tuple[int, str]:
    rows = conn.execute(
        f'SELECT id::text, title FROM "{schema}".notes WHERE tenant_key = %s ORDER BY id', (name,)
    ).fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def served_digest(app: httpx.Client, running: moving.Writer) -> tuple[int, str]:
    notes = support.every_page(app, f"/projects/{running.project}/notes", running.headers)
    rows = sorted((n["id"], n["title"]) for n in notes)
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def completed(tenant: dict[str, Any], move: tuple[str, str, str, str]) -> dict[str, Any]:
    migration = tenant["status"]["migration"]
    ends = (
        migration["source"],
        migration["sourceServer"],
        migration["target"],
        migration["targetServer"],
    )
    assert (migration["phase"], ends) == ("Completed", move), migration
    assert migration["writeBlockMs"] < 1000
    assert migration["durationMs"] >= 0
    assert migration["finished"]
    assert tenant["status"]["server"] == move[3]
    last = tenant["status"]["moves"][-1]
    assert (last["result"], last["source"], last["targetServer"]) == ("Completed", *move[::3])
    return dict(migration)


def routed(pool_admin: psycopg.Connection[Any], name: str) -> tuple[Any, ...] | None:
    return pool_admin.execute(
        "SELECT placement, server, db_name FROM tenantry.tenants WHERE tenant_key = %s", (name,)
    ).fetchone()


def test_pool_shard_to_shard_then_silo_and_back_to_another_shard_while_writing(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    databases: dict[str, psycopg.Connection[Any]],
) -> None:
    main = databases["main"]
    name, running = moving.start_writer(app, env, custom, prefix="shardmove")
    try:
        running.writes_flow()
        completed(moved(custom, name, {"server": "shard-b"}), ("pool", "main", "pool", "shard-b"))
        assert routed(main, name) == ("pool", "shard-b", "tenantry_shard_b")
        assert digest(main, name, "public")[0] == 0, "the main copy is purged"
        running.writes_flow()

        to_silo = moved(custom, name, {"isolation": "silo", "server": None})
        assert to_silo["status"]["migration"]["sourceServer"] == "shard-b"
        assert to_silo["status"]["placement"] == "silo", to_silo["status"]["migration"]
        # New silos go to silo-a: silo-b is cordoned, yet a move may name it.
        assert to_silo["status"]["server"] == "silo-a"
        assert digest(databases["shard-b"], name, "public")[0] == 0, "the shard copy is purged"
        running.writes_flow()

        database = "tenant_" + name.replace("-", "_")
        on_b = moved(custom, name, {"server": "silo-b"})
        completed(on_b, ("silo", "silo-a", "silo", "silo-b"))
        assert routed(main, name) == ("silo", "silo-b", database)
        assert silo_databases(env, database) == {"silo-b"}, "the silo-a copy is purged"
        apps = client.AppsV1Api(custom.api_client)
        pods = apps.read_namespaced_deployment("app", f"tenant-{name}").spec.template
        annotations = pods.metadata.annotations
        assert annotations["tenantry.dev/database-server"] == "silo-b"  # its pods rolled
        running.writes_flow()

        back = moved(custom, name, {"isolation": "pool", "server": "shard-c"})
        assert back["status"]["migration"]["target"] == "pool"
        assert (back["status"]["server"], routed(main, name)) == (
            "shard-c",
            ("pool", "shard-c", "tenantry_shard_c"),
        )
        running.writes_flow()
        running.finish()
        assert running.errors == []
        moving.assert_nothing_lost(app, running)
        served = served_digest(app, running)
        assert digest(databases["shard-c"], name, "public") == served
        assert served[0] == moving.SEEDED + len(running.acked)
        tenant = support.get_tenant(custom, name) or {}
        assert next(m["targetServer"] for m in tenant["status"]["moves"]) == "shard-b"
        assert len(tenant["status"]["moves"]) == 4
        assert moving.replication_leftovers(main, name) == []
        assert moving.replication_leftovers(databases["shard-b"], name) == []
    finally:
        running.finish()


def test_bridge_to_bridge_on_another_shard_then_pool_on_a_third_while_writing(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    databases: dict[str, psycopg.Connection[Any]],
) -> None:
    name, running = moving.start_writer(app, env, custom, prefix="bridgemove", tier="pro")
    schema = "tenant_" + name.replace("-", "_")
    try:
        running.writes_flow()
        completed(
            moved(custom, name, {"server": "shard-c"}), ("bridge", "main", "bridge", "shard-c")
        )
        assert routed(databases["main"], name) == ("bridge", "shard-c", "tenantry_shard_c")
        assert (
            databases["main"]
            .execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            .fetchone()
            is None
        ), "the main copy is purged"
        running.writes_flow()
        # Both the shard and the schema change: staged beside the target's `public`.
        completed(
            moved(custom, name, {"isolation": "pool", "server": "shard-b"}),
            ("bridge", "shard-c", "pool", "shard-b"),
        )
        assert routed(databases["main"], name) == ("pool", "shard-b", "tenantry_shard_b")
        for shard in ("shard-b", "shard-c"):
            assert (
                databases[shard]
                .execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
                .fetchone()
                is None
            ), f"no staging or source schema is left in {shard}"
        running.writes_flow()
        running.finish()
        moving.assert_nothing_lost(app, running)
        assert digest(databases["shard-b"], name, "public") == served_digest(app, running)
        for conn in databases.values():
            assert moving.replication_leftovers(conn, name) == []
    finally:
        running.finish()


def test_an_unknown_server_is_refused_and_nothing_moves(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    databases: dict[str, psycopg.Connection[Any]],
) -> None:
    name = support.unique("stay")
    support.create_tenant(custom, name, tier="free")
    support.wait_ready(custom, name)
    support.patch_tenant(custom, name, placement={"server": "shard-z"})

    def refused() -> dict[str, Any] | None:
        tenant = support.get_tenant(custom, name)
        cond = support.condition(tenant, "MigrationRequired")
        return cond if cond.get("reason") == "UnknownServer" else None

    cond = eventually(refused, what=f"{name} refused")
    assert cond["status"] == "True"
    assert "shard-z" in cond["message"]
    tenant = support.get_tenant(custom, name) or {}
    assert support.condition(tenant, "DatabaseReady")["status"] == "True"
    assert "migration" not in tenant["status"]
    assert tenant["status"]["server"] == "main"
    assert routed(databases["main"], name) == ("pool", "main", None)
    eventually(
        lambda: any(e.reason == "UnknownServer" for e in support.events_for(core, name)),
        what="an UnknownServer Event",
    )
