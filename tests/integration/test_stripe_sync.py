"""Signup creates the Stripe customer and subscription; plan changes go through Stripe.

Against localstripe (a stateful fake of Stripe's API, started with the platform)."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
import stripe
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from control_plane import models
from control_plane.core import config
from control_plane.integrations import stripe_sync
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.fixture
def stripe_client(env: dict[str, str]) -> stripe.StripeClient:
    return stripe.StripeClient(
        env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}
    )


def stripe_ids(db: psycopg.Connection[Any], tenant_id: str) -> tuple[Any, ...] | None:
    row = db.execute(
        "SELECT stripe_customer_id, stripe_subscription_id FROM tenants WHERE id = %s", (tenant_id,)
    ).fetchone()
    return tuple(row) if row and all(row) else None


def test_signup_creates_customer_and_subscription_once(
    api: httpx.Client,
    control_db: psycopg.Connection[Any],
    stripe_client: stripe.StripeClient,
    env: dict[str, str],
) -> None:
    body = support.signup(api, support.unique("Customer"), tier="standard")
    tenant = body["tenant"]
    support.verify_email(api, env, support.owner_email(body))  # standard is held until then
    customer_id, subscription_id = eventually(
        lambda: stripe_ids(control_db, tenant["id"]), what="Stripe ids recorded"
    )
    customer = stripe_client.v1.customers.retrieve(customer_id)
    assert customer.to_dict()["metadata"]["tenant_id"] == tenant["id"]
    assert customer.email == f"owner@{tenant['company'].lower()}.example.com"

    def plan() -> str:
        subscription = stripe_client.v1.subscriptions.retrieve(subscription_id)
        return str(subscription["items"]["data"][0]["plan"]["id"])

    eventually(lambda: plan() == "standard-monthly", what="the subscription on standard")
    subscription = stripe_client.v1.subscriptions.retrieve(subscription_id)
    assert subscription.to_dict()["metadata"]["tenant_id"] == tenant["id"]

    # A retried job (the same intent again) creates nothing new.
    engine = create_engine(env["DATABASE_URL"])
    with sessionmaker(engine)() as session, session.begin():
        row = session.get(models.Tenant, tenant["id"])
        assert row is not None
        entry = models.OutboxEntry(tenant=row, action=models.OutboxAction.SYNC_BILLING)
        settings = config.Settings(
            STRIPE_API_KEY=env["STRIPE_API_KEY"], STRIPE_API_BASE=env["STRIPE_API_BASE"]
        )
        assert stripe_sync.sync(session, entry, settings) == "nothing to do"
    engine.dispose()
    assert stripe_ids(control_db, tenant["id"]) == (customer_id, subscription_id)


def test_plan_change_goes_through_stripe_and_the_webhook_changes_the_tier(
    api: httpx.Client,
    control_db: psycopg.Connection[Any],
    stripe_client: stripe.StripeClient,
) -> None:
    body = support.signup(api, support.unique("Changer"), tier="free")
    tenant = body["tenant"]
    _, subscription_id = eventually(
        lambda: stripe_ids(control_db, tenant["id"]), what="Stripe ids recorded"
    )
    unknown = api.post(
        f"/tenants/{tenant['id']}/subscription", json={"plan": "gold"}, headers=support.auth(body)
    )
    assert unknown.status_code == 422
    requested = api.post(
        f"/tenants/{tenant['id']}/subscription",
        json={"plan": "standard-monthly"},
        headers=support.auth(body),
    )
    assert requested.status_code == 202
    assert requested.json() == {
        "plan": "standard-monthly",
        "tier": "standard",
        "status": "requested",
    }

    def moved() -> bool:
        current = stripe_client.v1.subscriptions.retrieve(subscription_id)
        return bool(current["items"]["data"][0]["plan"]["id"] == "standard-monthly")

    eventually(moved, what="Stripe subscription on the new plan")
    # The tier follows Stripe's confirmation, not the request.
    assert control_db.execute(
        "SELECT tier FROM tenants WHERE id = %s", (tenant["id"],)
    ).fetchone() == ("free",)
    other = support.signup(api, support.unique("Other"))
    assert (
        api.post(
            f"/tenants/{tenant['id']}/subscription",
            json={"plan": "pro-monthly"},
            headers=support.auth(other),
        ).status_code
        == 404
    )
