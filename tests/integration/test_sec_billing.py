"""Billing events cannot be forged into another tenant's account: a tenant is found only by the
Stripe customer we created for it, a subscription event acts only on the tenant's current
subscription, and a cancellation closes the tenant with the same restorable grace period as the
API's offboarding; a restored tenant gets a new subscription and is billed again."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support
from tests.integration.test_billing import Stripe, drained, invoice, registry, subscription

pytestmark = pytest.mark.integration


@pytest.fixture
def stripe_api(api: httpx.Client, env: dict[str, str]) -> Stripe:
    return Stripe(api, env["STRIPE_WEBHOOK_SECRET"])


def linked(
    api: httpx.Client, db: psycopg.Connection[Any], company: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """A new tenant whose Stripe customer and subscription are `cus_<slug>` and `sub_<slug>`."""
    body = support.signup(api, support.unique(company))
    tenant = body["tenant"]
    eventually(functools.partial(drained, db, tenant["id"]), what="signup's Stripe job done")
    db.execute(
        "UPDATE tenants SET stripe_customer_id = %s, stripe_subscription_id = %s WHERE id = %s",
        (f"cus_{tenant['slug']}", f"sub_{tenant['slug']}", tenant["id"]),
    )
    return tenant, support.auth(body)


def outcome_of(db: psycopg.Connection[Any], event: dict[str, Any]) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT outcome, tenant_id FROM stripe_events WHERE id = %s", (event["id"],)
    ).fetchone()


def test_events_find_a_tenant_only_by_its_own_customer(
    api: httpx.Client, stripe_api: Stripe, control_db: psycopg.Connection[Any]
) -> None:
    victim, _ = linked(api, control_db, "Victim")
    attacker = {**subscription(victim, "canceled", "standard"), "id": "sub_attacker"}
    attacker["customer"] = "cus_attacker"  # metadata still names the victim's tenant id
    cancel = stripe_api.event("customer.subscription.deleted", attacker)
    checkout = stripe_api.event(
        "checkout.session.completed",
        {
            "id": "cs_attacker",
            "object": "checkout.session",
            "payment_status": "paid",
            "client_reference_id": victim["id"],
            "customer": "cus_attacker",
            "metadata": {"tenant_id": victim["id"]},
        },
    )
    for event in (cancel, checkout):
        sent = stripe_api.send(event)
        assert sent.status_code == 200, sent.text
        assert sent.json()["outcome"] == "ignored: no tenant has this customer"
        assert outcome_of(control_db, event) == ("ignored: no tenant has this customer", None)
    assert registry(control_db, victim["id"]) == ("none", "free", False, "active")
    assert control_db.execute(
        "SELECT stripe_customer_id FROM tenants WHERE id = %s", (victim["id"],)
    ).fetchone() == (f"cus_{victim['slug']}",)


def test_subscription_events_act_only_on_the_current_subscription(
    api: httpx.Client, stripe_api: Stripe, control_db: psycopg.Connection[Any]
) -> None:
    tenant, _ = linked(api, control_db, "Resubscriber")
    old = {**subscription(tenant, "active", "enterprise"), "id": "sub_old"}
    old_invoice = {"id": "in_old", "customer": old["customer"], "subscription": "sub_old"}
    for kind, obj in (
        ("customer.subscription.created", old),
        ("customer.subscription.updated", old),
        ("customer.subscription.deleted", old),
        ("invoice.payment_failed", old_invoice),
    ):
        event = stripe_api.event(kind, obj)
        sent = stripe_api.send(event)
        assert sent.json()["outcome"] == "ignored: not the tenant's current subscription"
        assert outcome_of(control_db, event) == (sent.json()["outcome"], uuid.UUID(tenant["id"]))
    assert registry(control_db, tenant["id"]) == ("none", "free", False, "active")
    assert control_db.execute(
        "SELECT stripe_subscription_id FROM tenants WHERE id = %s", (tenant["id"],)
    ).fetchone() == (f"sub_{tenant['slug']}",)
    current = stripe_api.event(
        "customer.subscription.updated", subscription(tenant, "active", "standard")
    )
    assert stripe_api.send(current).json()["outcome"] == "applied"
    assert registry(control_db, tenant["id"]) == ("active", "standard", False, "active")


def test_cancellation_is_restorable_until_the_grace_period_ends(
    api: httpx.Client,
    stripe_api: Stripe,
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    tenant, owner = linked(api, control_db, "Canceler")
    support.wait_ready(custom, tenant["slug"])
    deleted = stripe_api.event(
        "customer.subscription.deleted", subscription(tenant, "canceled", "free")
    )
    assert stripe_api.send(deleted).json()["outcome"] == "applied"
    assert registry(control_db, tenant["id"]) == ("canceled", "free", True, "closing")
    row = control_db.execute(
        "SELECT offboard_after FROM tenants WHERE id = %s", (tenant["id"],)
    ).fetchone()
    assert row is not None
    assert row[0] > dt.datetime.now(dt.UTC) + dt.timedelta(days=29)  # OFFBOARD_GRACE_SECONDS
    support.wait_phase(custom, tenant["slug"], "Suspended")
    assert support.get_tenant(custom, tenant["slug"]) is not None

    restored = api.post(f"/tenants/{tenant['id']}/restore", headers=owner)
    assert restored.status_code == 200, restored.text
    assert restored.json()["lifecycle"] == "active"
    support.wait_ready(custom, tenant["slug"])

    late = stripe_api.event(
        "customer.subscription.deleted", subscription(tenant, "canceled", "free")
    )
    # The restore forgot the canceled subscription: its late events are another one's.
    assert (
        stripe_api.send(late).json()["outcome"] == "ignored: not the tenant's current subscription"
    )
    assert registry(control_db, tenant["id"])[2:] == (False, "active")

    gone, _ = linked(api, control_db, "Canceled")
    ended = stripe_api.event(
        "customer.subscription.deleted", subscription(gone, "canceled", "free")
    )
    assert stripe_api.send(ended).json()["outcome"] == "applied"
    assert support.get_tenant(custom, gone["slug"]) is not None
    control_db.execute(
        "UPDATE tenants SET offboard_after = now() - interval '1 second' WHERE id = %s",
        (gone["id"],),
    )
    eventually(
        lambda: support.get_tenant(custom, gone["slug"]) is None, timeout=60, what="offboarded"
    )
    assert registry(control_db, gone["id"])[3] == "offboarding"


def test_a_payment_does_not_reopen_a_closing_tenant(
    api: httpx.Client, stripe_api: Stripe, control_db: psycopg.Connection[Any]
) -> None:
    tenant, owner = linked(api, control_db, "Leaving")
    assert api.post(f"/tenants/{tenant['id']}/offboard", headers=owner).status_code == 200
    paid = stripe_api.event("invoice.paid", invoice(tenant))
    assert stripe_api.send(paid).json()["outcome"] == "applied"
    assert registry(control_db, tenant["id"]) == ("active", "free", True, "closing")


def test_a_restored_canceled_tenant_gets_a_new_subscription(
    api: httpx.Client,
    stripe_api: Stripe,
    env: dict[str, str],
    control_db: psycopg.Connection[Any],
) -> None:
    body = support.signup(api, support.unique("Returning"))
    tenant, owner = body["tenant"], support.auth(body)
    eventually(functools.partial(drained, control_db, tenant["id"]), what="signup's Stripe job")

    def stripe_ids() -> tuple[Any, ...]:
        row = control_db.execute(
            "SELECT stripe_customer_id, stripe_subscription_id, billing_state FROM tenants "
            "WHERE id = %s",
            (tenant["id"],),
        ).fetchone()
        assert row is not None
        return tuple(row)

    customer, old, _ = stripe_ids()
    assert customer
    assert old

    def snapshot(sub: str, status: str) -> dict[str, Any]:
        return {
            "id": sub,
            "object": "subscription",
            "status": status,
            "customer": customer,
            "items": {"data": [{"plan": {"id": "free-monthly"}}]},
        }

    gone = stripe_api.event("customer.subscription.deleted", snapshot(old, "canceled"))
    assert stripe_api.send(gone).json()["outcome"] == "applied"
    assert registry(control_db, tenant["id"]) == ("canceled", "free", True, "closing")
    restored = api.post(f"/tenants/{tenant['id']}/restore", headers=owner)
    assert restored.status_code == 200, restored.text
    assert (restored.json()["billing_state"], restored.json()["suspended"]) == ("none", False)

    def resubscribed() -> str | None:
        _, current, _ = stripe_ids()
        return current if current and current != old else None

    new = eventually(resubscribed, what="a new subscription for the restored tenant")
    created = stripe.StripeClient(
        env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}
    ).v1.subscriptions.retrieve(new)
    assert (created.customer, created.status) == (customer, "active")
    # The old subscription's events change nothing; the new one's bill the tenant again.
    late = stripe_api.event("customer.subscription.deleted", snapshot(old, "canceled"))
    assert (
        stripe_api.send(late).json()["outcome"] == "ignored: not the tenant's current subscription"
    )
    billed = stripe_api.event("customer.subscription.updated", snapshot(new, "past_due"))
    assert stripe_api.send(billed).json()["outcome"] == "applied"
    assert registry(control_db, tenant["id"]) == ("past_due", "free", False, "active")
