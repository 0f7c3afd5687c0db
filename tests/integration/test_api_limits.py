"""Per-tenant rate limits shared by control-plane replicas, and OIDC bearer tokens: a second
replica runs beside the first with an OIDC issuer whose key set this test generates and serves."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import jwt
from kubernetes import client

from tests import oidc
from tests.conftest import eventually
from tests.integration import support


def test_rate_limits_come_from_the_tier_and_are_shared_by_replicas(
    api: httpx.Client,
    oidc_replica: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
) -> None:
    tier = support.unique("tight")
    support.make_tier(custom, tier, rateLimitPerMinute=6, features=["projects"])
    limited, other = (support.signup(api, support.unique(n)) for n in ("Limited", "Neighbour"))
    eventually(
        lambda: any(t["name"] == tier for t in oidc_replica.get("/tiers").json()),
        what="replica tier",
    )
    support.set_tier(api, env, limited["tenant"]["id"], tier)
    url = f"/tenants/{limited['tenant']['id']}"
    headers = support.auth(limited)

    # Six a minute, alternating replicas: the budget is one, not one per replica.
    answers = [(api if i % 2 else oidc_replica).get(url, headers=headers) for i in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    remaining = [int(a.headers["ratelimit-remaining"]) for a in answers]
    assert remaining == sorted(remaining, reverse=True)
    assert remaining[-1] == 0
    assert answers[0].headers["ratelimit-policy"] == '"tenant";q=6;w=60'
    for client_ in (api, oidc_replica):
        refused = client_.get(url, headers=headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 10
        assert refused.headers["ratelimit"].startswith('"tenant";r=0;')
        assert refused.headers["x-request-id"]
    # Another tenant is not affected.
    neighbour = api.get(f"/tenants/{other['tenant']['id']}", headers=support.auth(other))
    assert neighbour.status_code == 200
    assert int(neighbour.headers["ratelimit-remaining"]) > 0


def test_oidc_tokens_from_the_configured_issuer_sign_users_in(
    api: httpx.Client, oidc_replica: httpx.Client, idp: tuple[str, Any], env: dict[str, str]
) -> None:
    _, key = idp
    body = support.signup(api, support.unique("Federated"))
    support.grant(api, env, body["tenant"]["id"], "sso")  # signing in through OIDC is `sso`
    email = f"owner@{body['tenant']['company'].lower()}.example.com"
    support.login(api, email)  # the account proves itself before an identity links to it
    support.verify_email(api, env, email)  # and so does its email
    me = oidc_replica.get("/auth/me", headers=support.bearer(oidc.token(key, email.upper())))
    assert me.status_code == 200, me.text
    assert me.json()["tenant_id"] == body["tenant"]["id"]
    assert me.json()["role"] == "owner"
    tenant = oidc_replica.get(
        f"/tenants/{body['tenant']['id']}", headers=support.bearer(oidc.token(key, email))
    )
    assert tenant.status_code == 200

    now = dt.datetime.now(dt.UTC)
    stranger = oidc.new_key()
    refused = {
        "expired": oidc.token(key, email, exp=now - dt.timedelta(seconds=1)),
        "wrong audience": oidc.token(key, email, aud="another-app"),
        "unverified email": oidc.token(key, email, email_verified=False),
        "unknown user": oidc.token(key, "nobody@example.com"),
        # The first sign-in pinned the issuer's subject: another subject with the same email
        # (an address reassigned at the identity provider) is not the same person.
        "another subject": oidc.token(key, email, sub="idp|someone-else"),
        "foreign key": oidc.token(stranger, email),
        "alg none": jwt.encode(
            {"iss": oidc.ISSUER, "aud": "tenantry", "sub": "x", "email": email, "exp": 9e9},
            "",
            algorithm="none",
        ),
    }
    for why, token in refused.items():
        response = oidc_replica.get("/auth/me", headers=support.bearer(token))
        assert response.status_code == 401, (why, response.text)
    # The first replica has no OIDC issuer configured: the same good token means nothing there.
    assert api.get("/auth/me", headers=support.bearer(oidc.token(key, email))).status_code == 401
