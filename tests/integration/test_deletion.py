"""Deleting a Tenant cleans up its namespace and honours deletionPolicy for its data."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def namespace_gone(core: client.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name)
    except client.ApiException as exc:
        return bool(exc.status == 404)
    return False


def tenant_with_rows(
    custom: client.CustomObjectsApi, app: httpx.Client, api: httpx.Client, policy: str
) -> tuple[str, dict[str, Any]]:
    body = support.signup(api, support.unique(policy))
    slug = body["tenant"]["slug"]
    support.wait_ready(custom, slug)
    custom.patch_cluster_custom_object(
        support.GROUP, support.VERSION, "tenants", slug, {"spec": {"deletionPolicy": policy}}
    )
    project = app.post("/projects", json={"name": "keep?"}, headers=support.auth(body)).json()
    assert (
        app.post(
            f"/projects/{project['id']}/notes", json={"title": "n"}, headers=support.auth(body)
        ).status_code
        == 201
    )
    eventually(
        lambda: (
            (t := support.get_tenant(custom, slug))
            and t["status"]["observedGeneration"] == t["metadata"]["generation"]
        ),
        what="policy change observed",
    )
    return slug, body


def rows(pool: psycopg.Connection[Any], slug: str) -> tuple[Any, ...] | None:
    """(projects, notes) the tenant has in the pool, counted past RLS as the superuser."""
    return pool.execute(
        "SELECT (SELECT count(*) FROM projects WHERE tenant_key = %(t)s),"
        "       (SELECT count(*) FROM notes WHERE tenant_key = %(t)s)",
        {"t": slug},
    ).fetchone()


def role(pool: psycopg.Connection[Any], slug: str) -> tuple[Any, ...] | None:
    return pool.execute(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", ("tnt_" + slug.replace("-", "_"),)
    ).fetchone()


def test_delete_policy_removes_data_namespace_and_role(
    api: httpx.Client,
    app: httpx.Client,
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    pool_admin: psycopg.Connection[Any],
) -> None:
    slug, body = tenant_with_rows(custom, app, api, "Delete")
    assert rows(pool_admin, slug) == (1, 1)
    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", slug)
    eventually(lambda: support.get_tenant(custom, slug) is None, what="Tenant gone")
    eventually(lambda: namespace_gone(core, f"tenant-{slug}"), timeout=60, what="namespace gone")
    assert rows(pool_admin, slug) == (0, 0)
    assert role(pool_admin, slug) is None
    assert (
        pool_admin.execute(
            "SELECT 1 FROM tenantry.tenants WHERE tenant_key = %s", (slug,)
        ).fetchone()
        is None
    )
    # Refused: the data has no route (503), and once the registry saw the deletion its users
    # are no longer the tenant's principals (401).
    assert app.get("/projects", headers=support.auth(body)).status_code in (401, 503)


def test_retain_policy_keeps_rows_and_stops_logins(
    api: httpx.Client,
    app: httpx.Client,
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    pool_admin: psycopg.Connection[Any],
) -> None:
    slug, body = tenant_with_rows(custom, app, api, "Retain")
    uid = support.wait_ready(custom, slug)["metadata"]["uid"]
    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", slug)
    eventually(lambda: support.get_tenant(custom, slug) is None, what="Tenant gone")
    eventually(lambda: namespace_gone(core, f"tenant-{slug}"), timeout=60, what="namespace gone")
    # Kept under a name bound to the Tenant's uid, out of the way of a new Tenant of its name;
    # its role (and so every login) is gone.
    assert rows(pool_admin, "retained_" + uid.replace("-", "")) == (1, 1)
    assert rows(pool_admin, slug) == (0, 0)
    assert role(pool_admin, slug) is None
    retained = pool_admin.execute(
        "SELECT retained_at IS NOT NULL FROM tenantry.tenants WHERE tenant_key = %s", (slug,)
    ).fetchone()
    assert retained == (True,)
    # Refused: the data has no route (503), and once the registry saw the deletion its users
    # are no longer the tenant's principals (401).
    assert app.get("/projects", headers=support.auth(body)).status_code in (401, 503)
    offboarded = [e for e in support.events_for(core, slug) if e.reason == "Offboarded"]
    assert offboarded
    assert "retained" in offboarded[0].message
