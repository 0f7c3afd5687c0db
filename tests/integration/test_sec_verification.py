"""Email verification before a tenant runs beyond the free tier, and the Tier's `selfService`
rules for signups and plan changes.

A signup on a paid tier runs on free until its owner opens the link mailed to them (read here
from the platform's SMTP sink): one token, stored hashed, used once, expiring, resent at a
limited rate, in no log. Then the tier asked for is provisioned. A tier may need a verified
email and a payment method (Stripe, here localstripe) before a tenant admin chooses it; platform
admins are not bound."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.fixture
def stripe_client(env: dict[str, str]) -> stripe.StripeClient:
    return stripe.StripeClient(
        env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}
    )


def verify(api: httpx.Client, token: str) -> httpx.Response:
    return api.post("/auth/verify-email", json={"token": token})


def actions(db: psycopg.Connection[Any], tenant_id: str) -> list[str]:
    rows = db.execute(
        "SELECT action FROM audit_log WHERE tenant_id = %s AND action LIKE ANY(%s) ORDER BY id",
        (tenant_id, ["user.email_%", "tenant.tier_released"]),
    ).fetchall()
    return [row[0] for row in rows]


def test_a_paid_signup_runs_on_free_until_the_owner_opens_the_mailed_link(
    api: httpx.Client,
    env: dict[str, str],
    platform: stack.Platform,
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
    stripe_client: stripe.StripeClient,
) -> None:
    body = support.signup(api, support.unique("Verify"), tier="standard")
    tenant, owner, email = body["tenant"], support.auth(body), support.owner_email(body)
    assert (tenant["tier"], tenant["requested_tier"]) == ("free", "standard")
    assert support.wait_ready(custom, tenant["slug"])["spec"]["tier"] == "free"

    first = support.mailed_token(env, email)
    stored = control_db.execute(
        "SELECT token_hash FROM email_verifications e JOIN users u ON u.id = e.user_id "
        "WHERE u.email = %s",
        (email,),
    ).fetchall()
    assert stored == [(hashlib.sha256(first.encode()).hexdigest(),)]  # hashed at rest

    # A resend replaces the link; asking again at once is refused until the budget comes back.
    assert api.post("/auth/verify-email/resend", headers=owner).status_code == 202
    refused = api.post("/auth/verify-email/resend", headers=owner)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    second = support.mailed_token(env, email, after=1)
    assert verify(api, first).status_code == 404  # replaced by the resend
    assert api.get(f"/tenants/{tenant['id']}/entitlements", headers=owner).json()["tier"] == "free"

    verified = verify(api, second)
    assert verified.status_code == 200, verified.text
    assert (verified.json()["email"], verified.json()["tier"]) == (email, "standard")
    assert verify(api, second).status_code == 404  # used once
    support.wait_tier(custom, tenant["slug"], "standard")
    seen = api.get(f"/tenants/{tenant['id']}", headers=owner).json()
    assert (seen["tier"], seen["requested_tier"]) == ("standard", None)

    def subscribed_to_standard() -> bool:
        row = control_db.execute(
            "SELECT stripe_subscription_id FROM tenants WHERE id = %s", (tenant["id"],)
        ).fetchone()
        if not row or not row[0]:
            return False
        current = stripe_client.v1.subscriptions.retrieve(row[0])
        return bool(current["items"]["data"][0]["plan"]["id"] == "standard-monthly")

    eventually(subscribed_to_standard, what="the subscription on the released tier")
    assert actions(control_db, tenant["id"]) == [
        "user.email_verification_sent",
        "user.email_verification_sent",
        "user.email_verified",
        "tenant.tier_released",
    ]
    logs = platform.supervisor.log_dir.rglob("*.log")
    logged = "".join(path.read_text(errors="replace") for path in logs)
    assert first not in logged
    assert second not in logged


def test_an_expired_link_does_nothing(
    api: httpx.Client, env: dict[str, str], control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Late"), tier="standard")
    token = support.mailed_token(env, support.owner_email(body))
    control_db.execute(
        "UPDATE email_verifications SET expires_at = now() - interval '1 second' "
        "WHERE token_hash = %s",
        (hashlib.sha256(token.encode()).hexdigest(),),
    )
    expired = verify(api, token)
    assert expired.status_code == 404
    assert expired.headers["content-type"] == "application/problem+json"
    assert control_db.execute(
        "SELECT tier, requested_tier FROM tenants WHERE id = %s", (body["tenant"]["id"],)
    ).fetchone() == ("free", "standard")


def test_a_silo_tier_needs_a_verified_owner_and_a_payment_method(
    api: httpx.Client,
    env: dict[str, str],
    control_db: psycopg.Connection[Any],
    stripe_client: stripe.StripeClient,
) -> None:
    tiers = {t["name"]: t for t in api.get("/tiers").json()}
    enterprise = tiers["enterprise"]
    assert (enterprise["requires_verified_email"], enterprise["requires_payment_method"]) == (
        True,
        True,
    )
    assert not tiers["standard"]["requires_verified_email"]  # today's behaviour kept
    signup = api.post(
        "/signup",
        json={
            "company": support.unique("Bigco"),
            "email": f"{support.unique('big')}@example.com",
            "password": support.PASSWORD,
            "tier": "enterprise",
        },
    )
    assert signup.status_code == 402, signup.text
    assert signup.json()["reason"] == "payment_method_required"

    body = support.signup(api, support.unique("Climber"))
    tenant, owner = body["tenant"], support.auth(body)

    def upgrade(headers: dict[str, str]) -> httpx.Response:
        return api.post(
            f"/tenants/{tenant['id']}/subscription",
            json={"plan": "enterprise-monthly"},
            headers=headers,
        )

    unverified = upgrade(owner)
    assert unverified.status_code == 403, unverified.text
    assert unverified.headers["content-type"] == "application/problem+json"
    assert unverified.json()["reason"] == "email_unverified"
    support.verify_email(api, env, support.owner_email(body))
    unpaid = upgrade(owner)
    assert unpaid.status_code == 402, unpaid.text
    assert unpaid.json()["reason"] == "payment_method_required"

    def customer() -> str | None:
        row = control_db.execute(
            "SELECT stripe_customer_id FROM tenants WHERE id = %s", (tenant["id"],)
        ).fetchone()
        return row[0] if row else None

    card = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        }
    )
    stripe_client.v1.payment_methods.attach(
        card.id, params={"customer": eventually(customer, what="the Stripe customer")}
    )
    accepted = upgrade(owner)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["tier"] == "enterprise"

    # A platform admin is not bound: an unverified tenant without a card is moved.
    other = support.signup(api, support.unique("Assigned"))
    moved = api.post(
        f"/tenants/{other['tenant']['id']}/subscription",
        json={"plan": "enterprise-monthly"},
        headers=support.admin(api, env),
    )
    assert moved.status_code == 202, moved.text


def test_a_tier_closed_to_self_service_is_refused_at_signup(
    api: httpx.Client, custom: client.CustomObjectsApi
) -> None:
    def offered() -> bool:
        return bool(next(t for t in api.get("/tiers").json() if t["name"] == "pro")["self_service"])

    patch = {"spec": {"selfService": {"allowed": False}}}
    custom.patch_cluster_custom_object(support.GROUP, support.VERSION, "tiers", "pro", patch)
    try:
        eventually(lambda: not offered(), what="pro closed in the tier catalog")
        refused = api.post(
            "/signup",
            json={
                "company": support.unique("Closed"),
                "email": f"{support.unique('c')}@example.com",
                "password": support.PASSWORD,
                "tier": "pro",
            },
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["reason"] == "tier_not_self_service"
    finally:
        patch = {"spec": {"selfService": {"allowed": True}}}
        custom.patch_cluster_custom_object(support.GROUP, support.VERSION, "tiers", "pro", patch)
        eventually(offered, what="pro offered again")
