"""Erasure with crypto-shredding: after a user is erased, on request (a platform admin's, or
their own) or at the end of their tenant's offboarding, no table of the registry or the pool
holds their address in clear, and the audit log keeps every entry, their personal values read
"[erased]"."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration

TEXT_TYPES = ("text", "character varying", "character", "jsonb", "json", "ARRAY")


def holding(conn: psycopg.Connection[Any], needle: str) -> list[str]:
    """Every `schema.table.column` of a text, JSON or array type whose value contains `needle`."""
    columns = conn.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "JOIN information_schema.tables USING (table_schema, table_name) "
        "WHERE table_type = 'BASE TABLE' AND data_type = ANY(%s) "
        "AND table_schema NOT IN ('pg_catalog', 'information_schema')",
        (list(TEXT_TYPES),),
    ).fetchall()
    assert len(columns) > 20, columns  # the scan reaches the tables
    found = []
    for schema, table, column in columns:
        hit = conn.execute(
            f'SELECT 1 FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE %s LIMIT 1',
            (f"%{needle}%",),
        ).fetchone()
        if hit:
            found.append(f"{schema}.{table}.{column}")
    return found


def audit_ids(control_db: psycopg.Connection[Any]) -> set[int]:
    return {row[0] for row in control_db.execute("SELECT id FROM audit_log").fetchall()}


def entries(api: httpx.Client, env: dict[str, str], tenant_id: str) -> list[dict[str, Any]]:
    found = api.get(
        "/audit", params={"tenant_id": tenant_id, "limit": 500}, headers=support.admin(api, env)
    )
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def test_an_erased_user_is_nowhere_in_clear_and_the_audit_log_keeps_its_entries(
    api: httpx.Client,
    app: httpx.Client,
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    control_db: psycopg.Connection[Any],
    pool_admin: psycopg.Connection[Any],
) -> None:
    body = support.signup(api, support.unique("Forgetful"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    support.wait_ready(custom, body["tenant"]["slug"])
    email = f"{support.unique('leaver')}@example.com"
    member = support.join(api, tid, owner, "member", email)
    assert app.post("/projects", json={"name": "theirs"}, headers=member).status_code == 201
    # A user may erase themselves, except a tenant's last owner.
    quitter_email = f"{support.unique('quitter')}@example.com"
    quitter = support.join(api, tid, owner, "viewer", quitter_email)
    last_owner = api.delete("/users/me", headers=owner)
    assert last_owner.status_code == 409
    assert last_owner.json()["title"] == "Last owner"
    assert api.delete("/users/me", headers=quitter).status_code == 204
    assert api.get("/auth/me", headers=quitter).status_code == 401
    (user,) = (
        u for u in api.get(f"/tenants/{tid}/users", headers=owner).json() if u["email"] == email
    )

    # Sealed in the log, opened when read.
    assert [c for c in holding(control_db, email) if c.startswith("public.audit_log")] == []
    invitations = [e for e in entries(api, env, tid) if e["action"] == "invitation.create"]
    (invited,) = (e for e in invitations if e["after"]["email"] == email)
    assert [e["after"]["email"] for e in invitations] == ["[erased]", email]  # the quitter's
    # Entries that name nothing of the member (the owner's own, opened) read the same after.
    unrelated = [
        e
        for e in entries(api, env, tid)
        if email not in json.dumps(e) and e["actor"] != f"user:{user['id']}"
    ]
    assert unrelated
    before = audit_ids(control_db)

    erased = api.post(f"/users/{user['id']}/erasure", headers=support.admin(api, env))
    assert erased.status_code == 200, erased.text
    assert erased.json()["keys_destroyed"] >= 1

    for address in (email, quitter_email):
        assert holding(control_db, address) == []
        assert holding(pool_admin, address) == []
    after = audit_ids(control_db)
    assert before <= after
    assert len(after) == len(before) + 1  # the erasure's own entry, naming only user:<id>
    read = {e["id"]: e for e in entries(api, env, tid)}
    assert read[invited["id"]]["after"]["email"] == "[erased]"
    assert read[invited["id"]]["action"] == "invitation.create"
    assert [read[e["id"]] for e in unrelated] == unrelated
    assert app.get("/projects", headers=member).status_code == 401
    again = api.post(f"/users/{user['id']}/erasure", headers=support.admin(api, env))
    assert again.status_code == 404


def test_the_users_of_an_offboarded_tenant_are_erased_after_its_last_mail(
    api: httpx.Client,
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    control_db: psycopg.Connection[Any],
    pool_admin: psycopg.Connection[Any],
) -> None:
    body = support.signup(api, support.unique("Leaving"))
    email = support.owner_email(body)
    support.wait_ready(custom, body["tenant"]["slug"])
    count = len(audit_ids(control_db))
    support.delete_tenant(custom, body["tenant"]["slug"])

    eventually(
        lambda: (
            not control_db.execute(
                "SELECT 1 FROM users WHERE tenant_id = %s", (body["tenant"]["id"],)
            ).fetchone()
        ),
        timeout=60,
        what="the offboarded tenant's users erased",
    )
    assert holding(control_db, email) == []
    assert holding(pool_admin, email) == []
    assert len(audit_ids(control_db)) > count
