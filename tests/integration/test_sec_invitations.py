"""Invitations and identities: an OIDC identity joins through an invitation addressed to its
verified email (linked at once, audited); an account made for someone else's email by whoever
held the invitation never captures their identity; and conflicts name no other tenant."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests import oidc
from tests.integration import support

pytestmark = pytest.mark.integration
NEUTRAL_EMAIL = "this email cannot be used for a new account; sign in instead"


def invite(api: httpx.Client, body: dict[str, Any], email: str) -> str:
    invited = api.post(
        f"/tenants/{body['tenant']['id']}/invitations",
        headers=support.auth(body),
        json={"email": email, "role": "member"},
    )
    assert invited.status_code == 201, invited.text
    return support.invitation_token(api, email)


def test_an_invitation_accepted_by_its_identity_links_it(
    api: httpx.Client,
    oidc_replica: httpx.Client,
    idp: tuple[str, Any],
    control_db: psycopg.Connection[Any],
    env: dict[str, str],
) -> None:
    _, key = idp
    body = support.signup(api, support.unique("Federated"))
    support.grant(api, env, body["tenant"]["id"], "sso")  # signing in through OIDC is `sso`
    email = f"{support.unique('sso')}@example.com"
    token = invite(api, body, email)

    def accept(id_token: str, client: httpx.Client = oidc_replica) -> httpx.Response:
        return client.post("/invitations/accept", json={"token": token, "id_token": id_token})

    # Another identity, or a platform that trusts no issuer, cannot use the invitation.
    stranger = accept(oidc.token(key, f"{support.unique('other')}@example.com"))
    assert stranger.status_code == 403, stranger.text
    assert accept(oidc.token(key, email, email_verified=False)).status_code == 401
    assert accept(oidc.token(key, email), client=api).status_code == 422
    joined = accept(oidc.token(key, email))
    assert joined.status_code == 201, joined.text
    assert accept(oidc.token(key, email)).status_code == 404  # used

    me = oidc_replica.get("/auth/me", headers=support.bearer(oidc.token(key, email)))
    assert me.status_code == 200, me.text
    assert (me.json()["tenant_id"], me.json()["role"]) == (body["tenant"]["id"], "member")
    # The subject names an address, sealed in the log (core.shredding): read it opened.
    logged = api.get(
        "/audit",
        params={"action": "auth.oidc_link", "limit": 500},
        headers=support.admin(api, env),
    ).json()["items"]
    linked = [
        (e["actor"], e["after"]) for e in logged if e["resource"] == f"user:{me.json()['id']}"
    ]
    assert linked == [
        (f"user:{me.json()['id']}", {"subject": f"{oidc.ISSUER}|idp|{email}", "via": "invitation"})
    ]
    row = control_db.execute(
        "SELECT password_hash, email_verified_at IS NOT NULL FROM users WHERE email = %s",
        (email,),
    ).fetchone()
    assert row == (None, True)


def test_an_account_made_by_the_inviter_never_captures_the_invitees_identity(
    api: httpx.Client, oidc_replica: httpx.Client, idp: tuple[str, Any]
) -> None:
    _, key = idp
    body = support.signup(api, support.unique("Captor"))
    victim = f"{support.unique('victim')}@example.com"
    token = invite(api, body, victim)
    # The inviter holds the token: without its session it accepts with a password it knows,
    # and signs in with it.
    taken = api.post("/invitations/accept", json={"token": token, "password": support.PASSWORD})
    assert taken.status_code == 201, taken.text
    support.login(api, victim)
    me = oidc_replica.get("/auth/me", headers=support.bearer(oidc.token(key, victim)))
    assert me.status_code == 401, me.text  # the email was never verified by its owner


def test_conflicts_name_no_other_tenant(api: httpx.Client) -> None:
    mine, theirs = (support.signup(api, support.unique(n)) for n in ("Asker", "Holder"))
    their_email = support.owner_email(theirs)
    token = invite(api, mine, their_email)
    taken = api.post("/invitations/accept", json={"token": token, "password": support.PASSWORD})
    assert taken.status_code == 409, taken.text
    assert taken.headers["content-type"] == "application/problem+json"
    assert taken.json()["detail"] == NEUTRAL_EMAIL

    renamed = api.patch(
        f"/tenants/{mine['tenant']['id']}",
        headers=support.auth(mine),
        json={"company": theirs["tenant"]["company"].upper()},
    )
    assert renamed.status_code == 409, renamed.text
    assert renamed.json()["title"] == "Tenant exists"
    for answer in (taken, renamed):
        text = answer.text.lower()
        for secret in (theirs["tenant"]["company"], theirs["tenant"]["slug"], their_email):
            assert secret.lower() not in text

    again = api.post(
        "/signup",
        json={
            "company": support.unique("Fresh"),
            "email": their_email,
            "password": support.PASSWORD,
            "tier": "free",
        },
    )
    assert again.status_code == 409
    assert again.json()["detail"] == NEUTRAL_EMAIL
