"""Paying: a paid signup and an upgrade go through Stripe Checkout, and the tenant runs on the paid
tier once Stripe's signed `checkout.session.completed` says so; the customer portal.

Checkout and the portal are the local fake (`localplatform.stripe_fake`, localstripe extended):
the test pays as the customer would, on the session's page, and the fake sends the signed event
to the control plane's webhook."""

from __future__ import annotations

from collections.abc import Iterator
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
DECLINED = "4000000000000341"  # localstripe attaches it, and every charge fails


@pytest.fixture(scope="module")
def no_trial(platform: stack.Platform) -> Iterator[httpx.Client]:
    """A control-plane replica (same database) whose paid plans have no trial: a paid signup
    pays at Checkout before it runs on its tier."""
    name = "control-plane-no-trial"
    platform.start_control_plane(name, extra_env={"STRIPE_TRIAL_DAYS": "0"})
    base = f"http://127.0.0.1:{platform.port(name)}/api/v1"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            eventually(lambda: http.get("/tiers").status_code == 200, what="replica tiers")
            yield http
    finally:
        platform.stop_process(name)


@pytest.fixture
def stripe_client(env: dict[str, str]) -> stripe.StripeClient:
    return stripe.StripeClient(
        env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}
    )


def billing(db: psycopg.Connection[Any], tenant_id: str) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT tier, requested_tier, billing_state, checkout_plan, stripe_subscription_id "
        "FROM tenants WHERE id = %s",
        (tenant_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def completed_events(db: psycopg.Connection[Any], tenant_id: str) -> list[tuple[str, str]]:
    return [
        (str(kind), str(outcome))
        for kind, outcome in db.execute(
            "SELECT type, outcome FROM stripe_events WHERE tenant_id = %s AND type = %s",
            (tenant_id, "checkout.session.completed"),
        ).fetchall()
    ]


def test_a_paid_signup_pays_at_checkout_and_runs_on_its_tier_once_stripe_says_so(
    no_trial: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
    stripe_client: stripe.StripeClient,
) -> None:
    body = support.signup(no_trial, support.unique("Payer"), tier="standard")
    tenant = body["tenant"]
    assert body["checkout_url"], body
    assert (tenant["tier"], tenant["requested_tier"], tenant["payment_pending"]) == (
        "free",
        "standard",
        True,
    )
    assert support.wait_ready(custom, tenant["slug"])["spec"]["tier"] == "free"
    # Verifying the email does not release a tier that is not paid for.
    assert support.verify_email(no_trial, env, support.owner_email(body))["tier"] == "free"

    with httpx.Client(timeout=30) as browser:
        page = browser.get(body["checkout_url"])
        assert page.status_code == 200
        assert "standard-monthly" in page.text
        declined = browser.post(body["checkout_url"], data={"card": DECLINED})
        assert declined.status_code == 402, declined.text
        assert billing(control_db, tenant["id"])[:4] == (
            "free",
            "standard",
            "none",
            "standard-monthly",
        )
        paid = browser.post(body["checkout_url"], data={"card": "4242424242424242"})
        assert paid.status_code == 303, paid.text

    ready = support.wait_tier(custom, tenant["slug"], "standard")
    assert support.condition(ready)["status"] == "True"
    tier, requested, state, pending, subscription = billing(control_db, tenant["id"])
    assert (tier, requested, state, pending) == ("standard", None, "active", None)
    current = stripe_client.v1.subscriptions.retrieve(subscription)
    assert (current.status, current["items"]["data"][0]["plan"]["id"]) == (
        "active",
        "standard-monthly",
    )
    assert completed_events(control_db, tenant["id"]) == [("checkout.session.completed", "applied")]
    seen = no_trial.get(f"/tenants/{tenant['id']}", headers=support.auth(body)).json()
    assert (seen["tier"], seen["payment_pending"], seen["billing_state"]) == (
        "standard",
        False,
        "active",
    )


def test_an_upgrade_pays_at_checkout_replacing_the_free_subscription_and_the_portal_opens(
    api: httpx.Client,
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
    stripe_client: stripe.StripeClient,
) -> None:
    body = support.signup(api, support.unique("Upgrader"))
    tenant, owner = body["tenant"], support.auth(body)
    assert body["checkout_url"] is None  # nothing to pay on free
    free_subscription = eventually(
        lambda: billing(control_db, tenant["id"])[4], what="the free subscription"
    )
    path = f"/tenants/{tenant['id']}/billing/checkout"
    assert api.post(path, json={"plan": "free-monthly"}, headers=owner).status_code == 422
    assert api.post(path, json={"plan": "gold"}, headers=owner).status_code == 422
    other = support.auth(support.signup(api, support.unique("Stranger")))
    assert api.post(path, json={"plan": "standard-monthly"}, headers=other).status_code == 404

    first = api.post(path, json={"plan": "standard-monthly"}, headers=owner)
    assert first.status_code == 201, first.text
    second = api.post(path, json={"plan": "standard-monthly"}, headers=owner)
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first.json()["id"]
    assert api.get(f"/tenants/{tenant['id']}", headers=owner).json()["payment_pending"] is True
    with httpx.Client(timeout=30) as browser:
        stale = browser.post(first.json()["url"], data={"card": "4242424242424242"})
        assert stale.status_code == 400, stale.text  # the replaced session was closed
        assert browser.post(second.json()["url"]).status_code == 303

    support.wait_tier(custom, tenant["slug"], "standard")
    tier, _, state, pending, subscription = billing(control_db, tenant["id"])
    assert (tier, state, pending) == ("standard", "trialing", None)  # the platform's 14-day trial
    assert subscription != free_subscription
    eventually(
        lambda: stripe_client.v1.subscriptions.retrieve(free_subscription).status == "canceled",
        what="the replaced free subscription canceled",
    )

    portal = api.post(f"/tenants/{tenant['id']}/billing/portal", headers=owner)
    assert portal.status_code == 201, portal.text
    customer = control_db.execute(
        "SELECT stripe_customer_id FROM tenants WHERE id = %s", (tenant["id"],)
    ).fetchone()
    assert customer is not None
    assert customer[0] in httpx.get(portal.json()["url"]).text
    assert api.post(f"/tenants/{tenant['id']}/billing/portal", headers=other).status_code == 404
    audit = control_db.execute(
        "SELECT action FROM audit_log WHERE tenant_id = %s AND action LIKE 'billing.%%' "
        "ORDER BY id",
        (tenant["id"],),
    ).fetchall()
    assert [a[0] for a in audit] == [
        "billing.checkout_started",
        "billing.checkout_started",
        "billing.checkout.session.completed",
        "billing.portal_opened",
    ]
