"""Credentials bound to people: an API key acts as its creator within its scopes, expires by
default, and is revoked only by someone who may manage its creator; sign-in guessing slows down
the guessing address, never locks the owner out, and is audited; an OIDC identity links only to
an account that proved itself; anonymous idempotency keys belong to one client; invitations do
not tell whether another tenant has an email. A replica with an OIDC issuer runs beside the
platform's control plane for the OIDC test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from tests import oidc
from tests.conftest import eventually
from tests.integration import support

client_at = support.client_at

PASSWORD = support.PASSWORD


def until_refused(attempt: Callable[[], httpx.Response], most: int = 40) -> list[int]:
    """The status of each attempt, up to the first 429."""
    codes: list[int] = []
    while 429 not in codes and len(codes) < most:
        codes.append(attempt().status_code)
    assert codes[-1] == 429, codes
    assert set(codes[:-1]) == {401}, codes
    return codes


def make_key(api: httpx.Client, tid: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    created = api.post(f"/tenants/{tid}/api-keys", headers=headers, json={"name": "k", **body})
    assert created.status_code == 201, created.text
    return dict(created.json())


def user_id(api: httpx.Client, headers: dict[str, str]) -> str:
    return str(api.get("/auth/me", headers=headers).json()["id"])


def test_an_api_key_narrows_with_its_creators_role_and_dies_with_its_creator(
    api: httpx.Client, control_db: psycopg.Connection[Any], env: dict[str, str]
) -> None:
    body = support.signup(api, support.unique("Creator"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    support.grant(api, env, tid, "audit-log")  # the free plan has no audit log
    domain = f"{body['tenant']['slug']}.example.com"
    admin = support.join(api, tid, owner, "admin", f"admin@{domain}")
    key = make_key(api, tid, admin, scopes=["tenant:read", "users:read", "audit:read"])
    as_key = support.bearer(key["key"])
    assert key["created_by"] == f"user:{user_id(api, admin)}"
    assert api.get(f"/tenants/{tid}/audit", headers=as_key).status_code == 200

    # The admin is demoted to viewer: the key keeps only what a viewer may still do.
    admin_id = user_id(api, admin)
    demoted = api.patch(f"/tenants/{tid}/users/{admin_id}", headers=owner, json={"role": "viewer"})
    assert demoted.status_code == 200, demoted.text
    me = api.get("/auth/me", headers=as_key).json()
    assert me["permissions"] == ["tenant:read", "users:read"]
    refused = api.get(f"/tenants/{tid}/audit", headers=as_key)
    assert refused.status_code == 403
    assert refused.json()["permission"] == "audit:read"
    assert api.get(f"/tenants/{tid}/users", headers=as_key).status_code == 200

    # The creator is removed: the key is refused and listed as revoked.
    assert api.delete(f"/tenants/{tid}/users/{admin_id}", headers=owner).status_code == 204
    gone = api.get(f"/tenants/{tid}", headers=as_key)
    assert gone.status_code == 401
    [listed] = api.get(f"/tenants/{tid}/api-keys", headers=owner).json()
    assert listed["revoked_at"] is not None
    # A key made by a key acts for the same person.
    keyed = make_key(api, tid, owner, scopes=["tenant:read", "api_keys:manage"])
    child = make_key(api, tid, support.bearer(keyed["key"]), scopes=["tenant:read"])
    assert child["created_by"] == keyed["created_by"]
    assert control_db.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'api_key.revoke' AND tenant_id = %s",
        (tid,),
    ).fetchone() == (1,)


def test_api_keys_expire_by_default_and_never_beyond_the_maximum(api: httpx.Client) -> None:
    body = support.signup(api, support.unique("Expiry"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    default = make_key(api, tid, owner, scopes=["tenant:read"])
    assert default["expires_at"] is not None
    expires = dt.datetime.fromisoformat(default["expires_at"])
    days = (expires - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    assert 89 < days <= 90
    too_long = api.post(
        f"/tenants/{tid}/api-keys",
        headers=owner,
        json={"name": "forever", "scopes": ["tenant:read"], "expires_in_days": 3650},
    )
    assert too_long.status_code == 422, too_long.text
    assert too_long.headers["content-type"] == "application/problem+json"
    assert "365" in too_long.json()["detail"]
    assert [k["name"] for k in api.get(f"/tenants/{tid}/api-keys", headers=owner).json()] == ["k"]


def test_revoking_a_key_needs_the_right_to_manage_its_creator(api: httpx.Client) -> None:
    body = support.signup(api, support.unique("Revoke"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    domain = f"{body['tenant']['slug']}.example.com"
    member = support.join(api, tid, owner, "member", f"member@{domain}")
    other = support.join(api, tid, owner, "member", f"other@{domain}")
    admin = support.join(api, tid, owner, "admin", f"admin@{domain}")
    owners_key = make_key(api, tid, owner, scopes=["tenant:read"])
    members_key = make_key(api, tid, member, scopes=["tenant:read"])
    others_key = make_key(api, tid, other, scopes=["tenant:read"])

    def revoke(headers: dict[str, str], key: dict[str, Any]) -> httpx.Response:
        return api.delete(f"/tenants/{tid}/api-keys/{key['id']}", headers=headers)

    refused = revoke(member, owners_key)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert revoke(member, others_key).status_code == 403
    assert revoke(admin, owners_key).status_code == 403  # the owner outranks an admin
    assert api.get(f"/tenants/{tid}", headers=support.bearer(owners_key["key"])).status_code == 200
    assert revoke(member, members_key).status_code == 204  # one's own key
    assert revoke(admin, others_key).status_code == 204  # an admin manages members
    assert revoke(owner, owners_key).status_code == 204
    assert api.get(f"/tenants/{tid}", headers=support.bearer(owners_key["key"])).status_code == 401


def test_anonymous_idempotency_keys_belong_to_one_client(env: dict[str, str]) -> None:
    key = {"Idempotency-Key": support.unique("shared-key")}

    def login(http: httpx.Client, who: str) -> httpx.Response:
        body = {"email": f"{support.unique(who)}@example.com", "password": "wrong" * 3}
        return http.post("/auth/login", headers=key, json=body)

    with client_at(env, "127.0.0.2") as first, client_at(env, "127.0.0.3") as second:
        assert login(first, "first").status_code == 401
        # Another client's same key is its own: not refused as reused, not replayed.
        answered = login(second, "second")
        assert answered.status_code == 401, answered.text
        assert "idempotent-replayed" not in answered.headers
        reused = login(first, "again")
        assert reused.status_code == 422, reused.text


def test_a_stranger_guessing_is_slowed_down_exponentially_and_never_locks_the_owner_out(
    api: httpx.Client, env: dict[str, str], control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Guessed"))
    tid, uid = body["tenant"]["id"], user_id(api, support.auth(body))
    email = f"owner@{body['tenant']['company'].lower()}.example.com"
    wrong = {"email": email, "password": "not the password"}

    def guess(http: httpx.Client, target: str | None = None) -> httpx.Response:
        who = target or f"{support.unique('nobody')}@example.com"
        return http.post("/auth/login", json={"email": who, "password": "not the password"})

    with client_at(env, "127.0.0.4") as stranger, client_at(env, "127.0.0.5") as owner:
        # The stranger's budget for the owner's account runs out; the owner's does not.
        codes = until_refused(lambda: guess(stranger, email))
        guessed = codes.count(401)
        assert guessed >= 20
        assert owner.post("/auth/login", json={**wrong, "password": PASSWORD}).status_code == 200
        # Past its free failures (25) the stranger waits, twice as long after each failure.
        codes += until_refused(lambda: guess(stranger))
        assert codes.count(401) == 25
        waits = []
        for _ in range(3):
            refused = guess(stranger)
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            waits.append(int(refused.headers["retry-after"]))
            eventually(lambda: guess(stranger).status_code == 401, what="the delay to pass")
        assert waits == [1, 2, 4]
        assert owner.post("/auth/login", json={**wrong, "password": PASSWORD}).status_code == 200
    failed = control_db.execute(
        "SELECT actor, client_ip, resource FROM audit_log "
        "WHERE action = 'auth.login_failed' AND tenant_id = %s",
        (tid,),
    ).fetchall()
    assert len(failed) == guessed
    assert set(failed) == {("anonymous", "127.0.0.4", f"user:{uid}")}


def test_an_invitation_does_not_tell_whether_another_tenant_has_the_email(
    api: httpx.Client,
) -> None:
    inviter, other = (support.signup(api, support.unique(n)) for n in ("Prober", "Target"))
    tid, owner = inviter["tenant"]["id"], support.auth(inviter)
    elsewhere = f"owner@{other['tenant']['company'].lower()}.example.com"
    nobody = f"{support.unique('nobody')}@example.com"

    def invite(email: str) -> httpx.Response:
        return api.post(
            f"/tenants/{tid}/invitations", headers=owner, json={"email": email, "role": "viewer"}
        )

    # The same answer for an email of another tenant as for one nobody has.
    assert invite(nobody).status_code == 201
    probed = invite(elsewhere)
    assert probed.status_code == 201, probed.text
    assert other["tenant"]["company"] not in probed.text
    # One's own members are told apart: that is no secret to the tenant.
    member = f"member@{inviter['tenant']['company'].lower()}.example.com"
    support.join(api, tid, owner, "viewer", member)
    again = invite(member.upper())
    assert again.status_code == 409
    assert again.json()["detail"] == "this email is already a member of the tenant"


def test_an_oidc_identity_links_only_to_an_account_that_proved_itself(
    api: httpx.Client,
    oidc_replica: httpx.Client,
    idp: tuple[str, Any],
    env: dict[str, str],
) -> None:
    _, key = idp
    body = support.signup(api, support.unique("Linked"))
    support.grant(api, env, body["tenant"]["id"], "sso")  # signing in through OIDC is `sso`
    email = f"owner@{body['tenant']['company'].lower()}.example.com"

    def me(token: str) -> httpx.Response:
        return oidc_replica.get("/auth/me", headers=support.bearer(token))

    # Nobody has signed in to the account with its password yet: no link.
    assert me(oidc.token(key, email)).status_code == 401
    support.login(api, email)
    # The email must be verified, not merely unrefuted.
    unverified = oidc.token(key, email, email_verified=None)
    assert me(unverified).status_code == 401
    support.verify_email(api, env, email)  # and the account's email is verified
    linked = me(oidc.token(key, email))
    assert linked.status_code == 200, linked.text
    # A platform admin's email never links, even after a password sign-in.
    admin_email = env["FIRST_PLATFORM_ADMIN_EMAIL"]
    support.admin(api, env)
    assert me(oidc.token(key, admin_email)).status_code == 401
    # The subjects name addresses, sealed in the log (core.shredding): read them opened.
    logged = api.get(
        "/audit", params={"action": "auth.oidc_link", "limit": 500}, headers=support.admin(api, env)
    ).json()["items"]
    subjects = {f"{oidc.ISSUER}|idp|{email}", f"{oidc.ISSUER}|idp|{admin_email}"}
    actions = [
        (e["action"], e["resource"])
        for e in sorted(logged, key=lambda e: int(e["id"]))
        if (e["after"] or {}).get("subject") in subjects
    ]
    uid = linked.json()["id"]
    assert [a[0] for a in actions] == [
        "auth.oidc_link_refused",
        "auth.oidc_link",
        "auth.oidc_link_refused",
    ]
    assert actions[1][1] == f"user:{uid}"


def test_an_inviter_cannot_accept_its_own_invitation_for_someone_else(api: httpx.Client) -> None:
    body = support.signup(api, support.unique("SelfAccept"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    victim = f"{support.unique('victim')}@example.com"
    invited = api.post(
        f"/tenants/{tid}/invitations", headers=owner, json={"email": victim, "role": "viewer"}
    )
    assert invited.status_code == 201, invited.text
    accept = {"token": support.invitation_token(api, victim), "password": PASSWORD}
    refused = api.post("/invitations/accept", headers=owner, json=accept)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    emails = [u["email"] for u in api.get(f"/tenants/{tid}/users", headers=owner).json()]
    assert victim not in emails
    # The invitee, with no session of the inviter, still joins.
    assert api.post("/invitations/accept", json=accept).status_code == 201
