"""Pooled tenants cannot reach each other's rows: not through the app, not in SQL."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_tenants(
    api: httpx.Client, custom: client.CustomObjectsApi, app: httpx.Client
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    a, b = (support.signup(api, support.unique(n)) for n in ("Ada", "Bob"))
    for body in (a, b):
        support.wait_ready(custom, body["tenant"]["slug"])
    project = app.post("/projects", json={"name": "secret plans"}, headers=support.auth(a)).json()
    note = app.post(
        f"/projects/{project['id']}/notes",
        json={"title": "t", "body": "classified"},
        headers=support.auth(a),
    ).json()
    return a, b, {"project": project, "note": note}


def test_app_never_shows_or_changes_another_tenants_rows(
    two_tenants: Any, app: httpx.Client
) -> None:
    a, b, made = two_tenants
    bob = support.auth(b)
    project, note = made["project"]["id"], made["note"]["id"]
    assert app.get("/projects", headers=bob).json() == []
    assert app.get(f"/projects/{project}", headers=bob).status_code == 404
    assert app.get(f"/projects/{project}/notes", headers=bob).status_code == 404
    assert app.get(f"/notes/{note}", headers=bob).status_code == 404
    assert app.patch(f"/notes/{note}", json={"body": "pwned"}, headers=bob).status_code == 404
    assert app.delete(f"/notes/{note}", headers=bob).status_code == 404
    assert app.delete(f"/projects/{project}", headers=bob).status_code == 404
    assert (
        app.post(f"/projects/{project}/notes", json={"title": "x"}, headers=bob).status_code == 404
    )
    # The client cannot pick the tenant: extra fields are refused, the token decides.
    refused = app.post(
        "/projects", json={"name": "x", "tenant_id": a["tenant"]["slug"]}, headers=bob
    )
    assert refused.status_code == 422
    assert app.get(f"/notes/{note}", headers=support.auth(a)).json()["body"] == "classified"
    assert app.get("/projects").status_code == 401


def app_conn(env: dict[str, str]) -> psycopg.Connection[Any]:
    return psycopg.connect(env["TENANTRY_APP_DATABASE_URL"])


def test_sql_as_the_app_role_sees_only_the_tenant_in_context(
    two_tenants: Any, env: dict[str, str]
) -> None:
    a, b, _ = two_tenants
    ada, bob = a["tenant"]["slug"], b["tenant"]["slug"]
    with app_conn(env) as conn:
        assert conn.execute("SELECT count(*) FROM projects").fetchone() == (0,)  # no context
        conn.rollback()
        conn.execute("SELECT set_config('tenantry.tenant_key', %s, true)", (bob,))
        assert conn.execute("SELECT count(*) FROM projects").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (0,)
        assert conn.execute("UPDATE notes SET body = 'x'").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO projects (tenant_key, name) VALUES (%s, 'forged')", (ada,))
        conn.rollback()
        # The context is per transaction: it does not leak into the next one.
        conn.execute("SELECT set_config('tenantry.tenant_key', %s, true)", (ada,))
        assert conn.execute("SELECT count(*) FROM projects").fetchone() == (1,)
        conn.commit()
        assert conn.execute("SELECT count(*) FROM projects").fetchone() == (0,)
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE projects DISABLE ROW LEVEL SECURITY")


def test_app_role_is_not_privileged_and_tables_force_rls(
    pool_admin: psycopg.Connection[Any], two_tenants: Any
) -> None:
    assert pool_admin.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
        "WHERE rolname = 'tenantry_app'"
    ).fetchone() == (False, False, False, False)
    tables = pool_admin.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
    ).fetchall()
    assert tables == [
        ("notes", True, True, "tenantry_owner"),
        ("projects", True, True, "tenantry_owner"),
    ]
