"""Bridge tenants: a schema of their own in the shared database, reachable only by them."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.integration import support

pytestmark = pytest.mark.integration


def bridge_tenant(custom: client.CustomObjectsApi, **spec: Any) -> str:
    name = support.unique("bridge")
    support.create_tenant(custom, name, tier="pro", **spec)
    support.wait_ready(custom, name)
    return name


def schema(name: str) -> str:
    return "tenant_" + name.replace("-", "_")


def test_bridge_tenant_gets_its_own_schema(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = bridge_tenant(custom)
    resource = support.get_tenant(custom, name)
    assert resource is not None
    assert resource["status"]["placement"] == "bridge"
    assert resource["status"]["database"]["schema"] == schema(name)
    tables = pool_admin.execute(
        "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = %s ORDER BY 1",
        (schema(name),),
    ).fetchall()
    assert tables == [
        ("alembic_version", "tenantry_owner"),
        ("notes", "tenantry_owner"),
        ("projects", "tenantry_owner"),
    ]

    headers = support.token_for(env, name)
    assert app.post("/projects", json={"name": "in my schema"}, headers=headers).status_code == 201
    assert pool_admin.execute(f'SELECT name FROM "{schema(name)}".projects').fetchall() == [
        ("in my schema",)
    ]
    assert pool_admin.execute(
        "SELECT count(*) FROM public.projects WHERE tenant_key = %s", (name,)
    ).fetchone() == (0,)

    # The tenant's own credentials land in its schema (search_path) under its context.
    with psycopg.connect(support.secret_url(core, name)) as conn:
        conn.execute("SELECT set_config('tenantry.tenant_key', %s, true)", (name,))
        assert conn.execute("SELECT name FROM projects").fetchall() == [("in my schema",)]


def test_bridge_roles_reach_only_their_own_schema(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
) -> None:
    a, b = bridge_tenant(custom), bridge_tenant(custom)
    with psycopg.connect(support.secret_url(core, a), autocommit=True) as conn:
        for table in (f'"{schema(b)}".projects', "public.projects", "tenantry.tenants"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT * FROM {table}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'CREATE TABLE "{schema(a)}".mine (x int)')


def test_suspend_resume_and_delete_bridge(
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = bridge_tenant(custom, deletionPolicy="Delete")
    headers = support.token_for(env, name)
    assert app.post("/projects", json={"name": "x"}, headers=headers).status_code == 201
    support.patch_tenant(custom, name, suspended=True)
    support.wait_phase(custom, name, "Suspended")
    # Refused: its data has no route (503), and once the registry saw the deletion its users
    # are no longer the tenant's principals (401).
    assert app.get("/projects", headers=headers).status_code in (401, 503)
    support.patch_tenant(custom, name, suspended=False)
    support.wait_phase(custom, name, "Ready")
    assert len(app.get("/projects", headers=headers).json()) == 1

    support.delete_tenant(custom, name)
    assert (
        pool_admin.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema(name),)
        ).fetchone()
        is None
    )


def test_tier_change_within_bridge_and_retain_on_delete(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    bigger = support.unique("bridge-big")
    support.make_tier(custom, bigger, isolation="bridge", quota={"cpu": "12"})
    name = bridge_tenant(custom, deletionPolicy="Retain")
    headers = support.token_for(env, name)
    assert app.post("/projects", json={"name": "kept"}, headers=headers).status_code == 201

    support.patch_tenant(custom, name, tier=bigger)
    resource = support.wait_phase(custom, name, "Ready")
    assert resource["status"]["placement"] == "bridge"
    assert {c["type"]: c["status"] for c in resource["status"]["conditions"]}[
        "MigrationRequired"
    ] == "False"
    hard = core.read_namespaced_resource_quota("tenant-quota", f"tenant-{name}").spec.hard
    assert hard["limits.cpu"] == "12"

    uid = resource["metadata"]["uid"]
    support.delete_tenant(custom, name)
    # Retained under a name bound to the Tenant's uid; the role is gone.
    kept = "retained_" + uid.replace("-", "")
    assert pool_admin.execute(f'SELECT name FROM "{kept}".projects').fetchall() == [("kept",)]
    assert (
        pool_admin.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema(name),)
        ).fetchone()
        is None
    )
    assert (
        pool_admin.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
            ("tnt_" + name.replace("-", "_"),),
        ).fetchone()
        is None
    )
    # Refused: its data has no route (503), and once the registry saw the deletion its users
    # are no longer the tenant's principals (401).
    assert app.get("/projects", headers=headers).status_code in (401, 503)
