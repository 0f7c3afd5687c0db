"""Identity on the running control plane: rotating refresh tokens, API keys, invitations, roles
(built-in and custom) without escalation, and refused tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any

import httpx
import jwt
import psycopg

from control_plane.core import security
from tenantry_core import tokens
from tests.integration import support

PROBLEM = "application/problem+json"


def unauthorized(response: httpx.Response) -> bool:
    return (
        response.status_code == 401
        and response.headers["content-type"] == PROBLEM
        and response.headers["www-authenticate"] == "Bearer"
    )


def test_refresh_tokens_rotate_and_a_reused_one_revokes_its_family(api: httpx.Client) -> None:
    body = support.signup(api, support.unique("Rotate"))
    email = f"owner@{body['tenant']['company'].lower()}.example.com"
    first = support.login(api, email)
    assert first["expires_in"] == 15 * 60
    assert first["token_type"] == "bearer"

    second = api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    third = api.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    assert api.get("/auth/me", headers=support.bearer(third["access_token"])).status_code == 200

    # A thief replays the second token: the whole family dies, the newest included.
    replay = api.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert unauthorized(replay)
    assert "family is revoked" in replay.json()["detail"]
    assert unauthorized(api.post("/auth/refresh", json={"refresh_token": third["refresh_token"]}))
    # The signup's own family is another sign-in, untouched; logout revokes it.
    signup_refresh = body["token"]["refresh_token"]
    assert api.post("/auth/logout", json={"refresh_token": signup_refresh}).status_code == 204
    assert unauthorized(api.post("/auth/refresh", json={"refresh_token": signup_refresh}))
    assert unauthorized(api.post("/auth/login", json={"email": email, "password": "wrong" * 3}))


def test_tampered_expired_none_and_foreign_tokens_are_refused(
    api: httpx.Client, env: dict[str, str]
) -> None:
    body = support.signup(api, support.unique("Forged"))
    tid = body["tenant"]["id"]
    good = jwt.decode(body["token"]["access_token"], options={"verify_signature": False})
    now = int(dt.datetime.now(dt.UTC).timestamp())
    key = env["JWT_PRIVATE_KEY"]

    def signed(claims: dict[str, Any], with_key: str = key) -> str:
        return security.sign(claims, with_key)

    forged = {
        "alg none": jwt.encode(good, "", algorithm="none"),
        "expired": signed({**good, "exp": now - 10}),
        "wrong audience": signed({**good, "aud": "app"}),
        "wrong issuer": signed({**good, "iss": "evil"}),
        "another key": signed(good, tokens.generate_signing_key()),
        "unknown user": signed({**good, "sub": str(uuid.uuid4())}),
        "garbage": "not.a.token",
        "unknown api key": "tnt_" + "A" * 43,
    }
    for why, token in forged.items():
        response = api.get(f"/tenants/{tid}", headers=support.bearer(token))
        assert unauthorized(response), (why, response.status_code, response.text)
    basic = api.get(f"/tenants/{tid}", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert unauthorized(basic)
    assert unauthorized(api.get(f"/tenants/{tid}"))


def test_api_keys_are_shown_once_stored_hashed_scoped_and_revocable(
    api: httpx.Client, control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Keys"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    created = api.post(
        f"/tenants/{tid}/api-keys",
        headers=owner,
        json={"name": "ci", "scopes": ["tenant:read", "usage:read"]},
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("tnt_")
    assert created.json()["prefix"] == key[:12]
    listed = api.get(f"/tenants/{tid}/api-keys", headers=owner).json()
    assert [k["name"] for k in listed] == ["ci"]
    assert "key" not in listed[0]
    stored = control_db.execute(
        "SELECT key_hash, scopes, created_by FROM api_keys WHERE tenant_id = %s", (tid,)
    ).fetchone()
    assert stored is not None
    assert stored[0] == hashlib.sha256(key.encode()).hexdigest()
    assert sorted(stored[1]) == ["tenant:read", "usage:read"]
    dump = control_db.execute(
        "SELECT count(*) FROM api_keys WHERE row_to_json(api_keys)::text LIKE %s",
        (f"%{key[4:]}%",),
    ).fetchone()
    assert dump == (0,)

    as_key = support.bearer(key)
    me = api.get("/auth/me", headers=as_key).json()
    assert me["kind"] == "api_key"
    assert me["tenant_id"] == tid
    assert api.get(f"/tenants/{tid}", headers=as_key).status_code == 200
    refused = api.get(f"/tenants/{tid}/users", headers=as_key)
    assert refused.status_code == 403
    assert refused.json()["permission"] == "users:read"
    # A key cannot mint a broader key, nor may a member grant what it lacks.
    assert (
        api.post(
            f"/tenants/{tid}/api-keys",
            headers=as_key,
            json={"name": "x", "scopes": ["tenant:read"]},
        ).status_code
        == 403
    )
    unknown = api.post(
        f"/tenants/{tid}/api-keys", headers=owner, json={"name": "x", "scopes": ["tenant:write"]}
    )
    assert unknown.status_code == 422
    assert "tenant:write" in unknown.json()["detail"]

    revoked = api.delete(f"/tenants/{tid}/api-keys/{created.json()['id']}", headers=owner)
    assert revoked.status_code == 204
    assert unauthorized(api.get(f"/tenants/{tid}", headers=as_key))


def test_invitations_roles_and_custom_roles_never_escalate(
    api: httpx.Client, env: dict[str, str]
) -> None:
    body = support.signup(api, support.unique("Roles"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    support.grant(api, env, tid, "audit-log")  # the free plan has no audit log
    domain = f"{body['tenant']['slug']}.example.com"
    admin = support.join(api, tid, owner, "admin", f"admin@{domain}")
    member = support.join(api, tid, owner, "member", f"member@{domain}")

    # An admin may invite members but not owners; a member may invite nobody.
    def invite(headers: dict[str, str], role: str) -> httpx.Response:
        email = f"{uuid.uuid4().hex[:8]}@{domain}"
        return api.post(
            f"/tenants/{tid}/invitations", headers=headers, json={"email": email, "role": role}
        )

    assert invite(admin, "member").status_code == 201
    escalation = invite(admin, "owner")
    assert escalation.status_code == 403
    assert "billing:manage" in escalation.json()["missing"]
    assert invite(member, "viewer").status_code == 403

    users = {u["email"]: u for u in api.get(f"/tenants/{tid}/users", headers=owner).json()}
    owner_id = users[f"owner@{body['tenant']['company'].lower()}.example.com"]["id"]
    member_id = users[f"member@{domain}"]["id"]
    # An admin cannot demote the owner; the owner cannot leave the tenant ownerless.
    assert (
        api.patch(f"/tenants/{tid}/users/{owner_id}", headers=admin, json={"role": "viewer"})
    ).status_code == 403
    last = api.patch(f"/tenants/{tid}/users/{owner_id}", headers=owner, json={"role": "admin"})
    assert last.status_code == 409
    assert last.json()["title"] == "Last owner"

    # A custom role: auditors read the audit log and nothing about users.
    role = api.post(
        f"/tenants/{tid}/roles",
        headers=admin,
        json={"name": "auditor", "permissions": ["audit:read", "tenant:read"]},
    )
    assert role.status_code == 201, role.text
    assert (
        api.post(
            f"/tenants/{tid}/roles",
            headers=admin,
            json={"name": "biller", "permissions": ["billing:manage"]},
        ).status_code
        == 403
    )
    changed = api.patch(
        f"/tenants/{tid}/users/{member_id}", headers=admin, json={"role": "auditor"}
    )
    assert changed.status_code == 200
    assert changed.json()["role"] == "auditor"
    # The member's existing token now carries the new role's permissions: read from the database.
    assert api.get(f"/tenants/{tid}/audit", headers=member).status_code == 200
    assert api.get(f"/tenants/{tid}/users", headers=member).status_code == 403
    in_use = api.delete(f"/tenants/{tid}/roles/{role.json()['id']}", headers=admin)
    assert in_use.status_code == 409
    builtin = next(
        r for r in api.get(f"/tenants/{tid}/roles", headers=owner).json() if r["builtin"]
    )
    assert (
        api.patch(
            f"/tenants/{tid}/roles/{builtin['id']}", headers=owner, json={"permissions": []}
        ).status_code
        == 409
    )
    assert api.delete(f"/tenants/{tid}/users/{member_id}", headers=admin).status_code == 204
    assert api.get(f"/tenants/{tid}/audit", headers=member).status_code == 401


def test_the_published_key_set_verifies_access_tokens(api: httpx.Client) -> None:
    body = support.signup(api, support.unique("Jwks"))
    root = str(api.base_url).removesuffix("/").removesuffix("/api/v1")
    keys = httpx.get(f"{root}/.well-known/jwks.json").json()["keys"]
    token = body["token"]["access_token"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid))
    claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="tenantry")
    assert claims["tid"] == body["tenant"]["id"]


def test_sign_in_attempts_are_limited_per_account(env: dict[str, str]) -> None:
    with support.client_at(env, "127.0.0.7") as api:
        guess_one_account(api)


def guess_one_account(api: httpx.Client) -> None:
    target = f"{support.unique('guess')}@example.com"
    started, answers = time.monotonic(), list[int]()
    while 429 not in answers and len(answers) < 40:
        answer = api.post("/auth/login", json={"email": target, "password": "guess"})
        answers.append(answer.status_code)
    # 20 at once, then one more every 3 s: attempts that took time earned a few more.
    refilled = int((time.monotonic() - started) / 3) + 1
    assert answers[-1] == 429
    assert 20 <= answers.index(429) <= 20 + refilled
    assert set(answers[:-1]) == {401}
    refused = api.post("/auth/login", json={"email": target.upper(), "password": "again"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    other = api.post("/auth/login", json={"email": "someone-else@example.com", "password": "x"})
    assert other.status_code == 401
