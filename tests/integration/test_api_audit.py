"""Every write leaves an audit entry (actor, tenant, action, resource, before/after, request id,
client ip) that the tenant and platform admins can query; Idempotency-Key replays a POST or
PATCH and refuses a reused key with another body."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy
from sqlalchemy import orm

from control_plane.api import idempotency
from control_plane.workers import housekeeping
from localplatform import stack
from tests.conftest import eventually
from tests.integration import support


def test_writes_are_audited_with_request_ids_and_visible_only_to_their_tenant(
    api: httpx.Client, env: dict[str, str]
) -> None:
    a, b = (support.signup(api, support.unique(n)) for n in ("Audited", "Other"))
    tid, owner = a["tenant"]["id"], support.auth(a)
    for body in (a, b):  # the free plan has no audit log
        support.grant(api, env, body["tenant"]["id"], "audit-log")
    writes = [
        api.patch(f"/tenants/{tid}", headers=owner, json={"company": support.unique("Aud")}),
        api.post(
            f"/tenants/{tid}/api-keys", headers=owner, json={"name": "k", "scopes": ["tenant:read"]}
        ),
        api.post(
            f"/tenants/{tid}/roles",
            headers=owner,
            json={"name": "reader", "permissions": ["tenant:read"]},
        ),
    ]
    assert [w.status_code for w in writes] == [200, 201, 201]
    me = api.get("/auth/me", headers=owner).json()
    entries = api.get(f"/tenants/{tid}/audit", headers=owner).json()["items"]
    by_request = {e["request_id"]: e for e in entries}
    for write, action in zip(
        writes, ("tenant.update", "api_key.create", "role.create"), strict=True
    ):
        entry = by_request[write.headers["x-request-id"]]
        assert entry["action"] == action
        assert entry["actor"] == f"user:{me['id']}"
        assert entry["tenant_id"] == tid
        assert entry["client_ip"] == "127.0.0.1"
        assert entry["resource"]
        assert entry["after"]
    update = by_request[writes[0].headers["x-request-id"]]
    assert update["before"]["company"] == a["tenant"]["company"]
    assert update["after"]["company"] == writes[0].json()["company"]
    # Pages: newest first, the cursor continues below the last id.
    first = api.get(f"/tenants/{tid}/audit", headers=owner, params={"limit": 2}).json()
    rest = api.get(
        f"/tenants/{tid}/audit", headers=owner, params={"cursor": first["next_cursor"]}
    ).json()
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) == [e["id"] for e in entries]
    huge = api.get(f"/tenants/{tid}/audit", headers=owner, params={"cursor": 14653721400888})
    assert huge.status_code == 422  # beyond any id: refused, not a database error

    # Tenant B's owner never sees A's entries; a platform admin sees both.
    b_entries = api.get(f"/tenants/{b['tenant']['id']}/audit", headers=support.auth(b)).json()
    assert {e["tenant_id"] for e in b_entries["items"]} == {b["tenant"]["id"]}
    assert api.get(f"/tenants/{tid}/audit", headers=support.auth(b)).status_code == 404
    assert api.get("/audit", headers=owner).status_code == 403
    admin = support.admin(api, env)
    platform = api.get("/audit", headers=admin, params={"limit": 500}).json()["items"]
    assert {tid, b["tenant"]["id"]} <= {e["tenant_id"] for e in platform}


def test_idempotency_keys_replay_and_refuse_other_bodies(
    api: httpx.Client, control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Idem"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    invite = {"email": f"x@{body['tenant']['slug']}.example.com", "role": "viewer"}
    first = api.post(f"/tenants/{tid}/invitations", headers=owner | key, json=invite)
    again = api.post(f"/tenants/{tid}/invitations", headers=owner | key, json=invite)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # The stored answer is kept encrypted (the invitation's id is not readable), the key hashed.
    stored = control_db.execute(
        "SELECT key, response_body FROM idempotency_keys WHERE key = %s",
        (idempotency.key_ref(key["Idempotency-Key"]),),
    ).fetchone()
    assert stored is not None
    assert "token" not in first.json()  # the invitation's token is only in its mail
    assert first.json()["id"].encode() not in bytes(stored[1])
    assert key["Idempotency-Key"] not in stored[0]
    count = control_db.execute(
        "SELECT count(*) FROM invitations WHERE tenant_id = %s", (tid,)
    ).fetchone()
    assert count == (1,)
    other = api.post(
        f"/tenants/{tid}/invitations", headers=owner | key, json={**invite, "role": "admin"}
    )
    assert other.status_code == 422
    assert other.json()["title"] == "Idempotency-Key reused"

    # PATCH too; and errors are stored like successes (a retry of a 409 is a 409).
    patch_key = {"Idempotency-Key": str(uuid.uuid4())}
    renamed = api.patch(f"/tenants/{tid}", headers=owner | patch_key, json={"company": "Idem A"})
    replayed = api.patch(f"/tenants/{tid}", headers=owner | patch_key, json={"company": "Idem A"})
    assert replayed.json() == renamed.json()
    assert replayed.headers["idempotent-replayed"] == "true"

    # Keys belong to their actor: another tenant's owner with the same key is a new request.
    stranger = support.signup(api, support.unique("Stranger"))
    theirs = api.post(
        f"/tenants/{stranger['tenant']['id']}/invitations",
        headers=support.auth(stranger) | key,
        json={"email": f"y@{stranger['tenant']['slug']}.example.com", "role": "viewer"},
    )
    assert theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers

    # A request still running with the key: the retry is told to wait.
    running = str(uuid.uuid4())
    me = api.get("/auth/me", headers=owner).json()
    payload = json.dumps({**invite, "email": f"z@{body['tenant']['slug']}.example.com"}).encode()
    path = f"/api/v1/tenants/{tid}/invitations"
    control_db.execute(
        "INSERT INTO idempotency_keys (actor, key, method, path, body_hash) "
        "VALUES (%s, %s, 'POST', %s, %s)",
        (
            f"user:{me['id']}",
            idempotency.key_ref(running),
            path,
            idempotency.body_hash("POST", path, payload),
        ),
    )
    busy = api.post(
        f"/tenants/{tid}/invitations",
        headers=owner | {"Idempotency-Key": running, "Content-Type": "application/json"},
        content=payload,
    )
    assert busy.status_code == 409
    assert busy.headers["retry-after"] == "1"
    # GET ignores the header; an over-long key is a 400 problem.
    assert api.get(f"/tenants/{tid}", headers=owner | key).status_code == 200
    long_key = {"Idempotency-Key": "k" * 300}
    assert api.patch(f"/tenants/{tid}", headers=owner | long_key, json={}).status_code == 422


def test_signup_retried_with_its_key_creates_one_tenant(
    api: httpx.Client, control_db: psycopg.Connection[Any]
) -> None:
    company = support.unique("Retry")
    data = {
        "company": company,
        "email": f"owner@{company.lower()}.example.com",
        "password": support.PASSWORD,
        "tier": "free",
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first, second = (api.post("/signup", json=data, headers=key) for _ in range(2))
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    rows = control_db.execute(
        "SELECT count(*) FROM tenants WHERE company = %s", (company,)
    ).fetchone()
    assert rows == (1,)


def test_every_answer_has_a_request_id_and_every_log_line_is_json(
    api: httpx.Client, platform: stack.Platform
) -> None:
    body = support.signup(api, support.unique("Logged"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    ok = api.get(f"/tenants/{tid}", headers=owner)
    problems = [
        api.get("/tenants/not-a-uuid", headers=owner),
        api.get("/no-such-route"),
        api.delete("/tiers"),
        api.post("/signup", content=b"{", headers={"Content-Type": "application/json"}),
    ]
    assert [p.status_code for p in problems] == [422, 404, 405, 422]
    for response in [ok, *problems]:
        assert len(response.headers["x-request-id"]) == 32
    for problem in problems:
        assert problem.headers["content-type"] == "application/problem+json"
        assert problem.json()["status"] == problem.status_code
    assert problems[2].headers["allow"] == "GET"

    log = platform.state_dir / "logs" / "control-plane.log"

    def logged() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        return [e for e in lines if e.get("request_id") == ok.headers["x-request-id"]]

    entry = eventually(logged, what="the access log line")[-1]
    assert entry["event"] == "request"
    assert entry["tenant_id"] == tid
    assert entry["status"] == 200
    assert entry["actor"].startswith("user:")


def test_the_audit_log_is_append_only(control_db: psycopg.Connection[Any]) -> None:
    newest = "(SELECT max(id) FROM audit_log)"
    for statement in (
        f"UPDATE audit_log SET actor = 'someone-else' WHERE id = {newest}",
        f"DELETE FROM audit_log WHERE id = {newest}",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            control_db.execute(statement)


def test_housekeeping_purges_only_what_expired(
    api: httpx.Client, env: dict[str, str], control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Tidy"))
    user = control_db.execute(
        "SELECT id FROM users WHERE tenant_id = %s", (body["tenant"]["id"],)
    ).fetchone()
    assert user is not None
    marker = uuid.uuid4().hex
    control_db.execute(
        "INSERT INTO idempotency_keys (actor, key, method, path, body_hash, created_at) VALUES "
        "(%(a)s, 'old', 'POST', '/x', 'h', now() - interval '2 days'), "
        "(%(a)s, 'new', 'POST', '/x', 'h', now())",
        {"a": f"test:{marker}"},
    )
    control_db.execute(
        "INSERT INTO rate_limits (key, tat) VALUES "
        "(%(idle)s, now() - interval '1 minute'), (%(busy)s, now() + interval '30 seconds')",
        {"idle": f"idle:{marker}", "busy": f"busy:{marker}"},
    )
    family = uuid.uuid4()
    tokens = {
        "expired": "now() - interval '1 second', NULL, NULL",
        "revoked long ago": "now() + interval '1 day', NULL, now() - interval '2 days'",
        "used, still valid": "now() + interval '1 day', now(), NULL",
    }
    for name, times in tokens.items():
        control_db.execute(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, used_at,"
            f" revoked_at) VALUES (%s, %s, %s, %s, {times})",
            (uuid.uuid4(), family, user[0], hashlib.sha256(f"{marker}{name}".encode()).hexdigest()),
        )

    engine = sqlalchemy.create_engine(env["DATABASE_URL"])
    try:
        with orm.Session(engine) as session, session.begin():
            housekeeping.purge(
                session, dt.datetime.now(dt.UTC), idempotency_ttl=dt.timedelta(hours=24)
            )
    finally:
        engine.dispose()

    kept_keys = control_db.execute(
        "SELECT key FROM idempotency_keys WHERE actor = %s", (f"test:{marker}",)
    ).fetchall()
    assert kept_keys == [("new",)]
    kept_limits = control_db.execute(
        "SELECT key FROM rate_limits WHERE key LIKE %s", (f"%:{marker}",)
    ).fetchall()
    assert kept_limits == [(f"busy:{marker}",)]
    kept_tokens = control_db.execute(
        "SELECT count(*) FROM refresh_tokens WHERE family_id = %s AND used_at IS NOT NULL",
        (family,),
    ).fetchone()
    left = control_db.execute(
        "SELECT count(*) FROM refresh_tokens WHERE family_id = %s", (family,)
    ).fetchone()
    assert kept_tokens == left == (1,)


def test_text_a_database_or_resource_cannot_hold_is_refused_and_nothing_is_written(
    api: httpx.Client, control_db: psycopg.Connection[Any]
) -> None:
    company = support.unique("Nul")
    for bad in (f"{company}\x00", f"{company}\ud800", f"{company}\x1b[31m"):
        refused = api.post(
            "/signup",
            content=json.dumps(
                {
                    "company": bad,
                    "email": f"owner@{company.lower()}.example.com",
                    "password": support.PASSWORD,
                    "tier": "free",
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["loc"] == ["body", "company"]
    written = control_db.execute(
        "SELECT count(*) FROM tenants WHERE company LIKE %s", (f"{company}%",)
    ).fetchone()
    assert written == (0,)
