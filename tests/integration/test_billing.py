"""Stripe webhooks drive tiers, suspension and offboarding, exactly once, in any order."""

from __future__ import annotations

import functools
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration
PLANS = {"free": "free-monthly", "standard": "standard-monthly", "enterprise": "enterprise-monthly"}


@dataclass
class Stripe:
    """Signs events as Stripe would and posts them to the webhook."""

    api: httpx.Client
    secret: str
    clock: int = field(default_factory=lambda: int(time.time()) - 3600)

    def event(self, kind: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
        self.clock += 1
        return {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": kind,
            "created": created or self.clock,
            "data": {"object": obj},
        }

    def send(
        self, event: dict[str, Any], *, secret: str | None = None, signed_at: int | None = None
    ) -> httpx.Response:
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(
            payload, secret or self.secret, timestamp=signed_at
        )
        return self.api.post(
            "/billing/stripe/webhook",
            content=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )


def subscription(tenant: dict[str, Any], status: str, tier: str) -> dict[str, Any]:
    return {
        "id": f"sub_{tenant['slug']}",
        "object": "subscription",
        "status": status,
        "customer": f"cus_{tenant['slug']}",
        "metadata": {"tenant_id": tenant["id"]},
        "items": {"data": [{"plan": {"id": PLANS[tier]}}]},
    }


def invoice(tenant: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"in_{uuid.uuid4().hex[:10]}",
        "object": "invoice",
        "customer": f"cus_{tenant['slug']}",
        "metadata": {"tenant_id": tenant["id"]},
    }


@pytest.fixture
def stripe_api(api: httpx.Client, env: dict[str, str]) -> Stripe:
    return Stripe(api, env["STRIPE_WEBHOOK_SECRET"])


def drained(db: psycopg.Connection[Any], tenant_id: str) -> bool:
    """The tenant's outbox intents (its signup's Stripe job among them) are all done."""
    pending = db.execute(
        "SELECT count(*) FROM outbox WHERE tenant_id = %s AND processed_at IS NULL", (tenant_id,)
    ).fetchone()
    return pending == (0,)


def signup(api: httpx.Client, db: psycopg.Connection[Any], company: str) -> dict[str, Any]:
    """A new tenant whose Stripe customer and subscription are `cus_<slug>` and `sub_<slug>`
    (events find a tenant only by its own customer, and act on its current subscription)."""
    body = support.signup(api, support.unique(company))
    tenant = body["tenant"]
    eventually(functools.partial(drained, db, tenant["id"]), what="signup's Stripe job done")
    db.execute(
        "UPDATE tenants SET stripe_customer_id = %s, stripe_subscription_id = %s WHERE id = %s",
        (f"cus_{tenant['slug']}", f"sub_{tenant['slug']}", tenant["id"]),
    )
    return dict(body)


def registry(db: psycopg.Connection[Any], tenant_id: str) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT billing_state, tier, suspended, lifecycle FROM tenants WHERE id = %s", (tenant_id,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_forged_malformed_and_stale_events_are_refused(
    api: httpx.Client,
    stripe_api: Stripe,
    control_db: psycopg.Connection[Any],
) -> None:
    tenant = signup(api, control_db, "Billing")["tenant"]
    before = control_db.execute("SELECT count(*) FROM stripe_events").fetchone()
    upgrade = stripe_api.event(
        "customer.subscription.updated", subscription(tenant, "active", "standard")
    )
    forged = stripe_api.send(upgrade, secret="whsec_not_the_real_one")
    stale = stripe_api.send(upgrade, signed_at=int(time.time()) - 301)
    unsigned = api.post("/billing/stripe/webhook", content=json.dumps(upgrade))
    malformed_body = "{not json"
    malformed = api.post(
        "/billing/stripe/webhook",
        content=malformed_body,
        headers={
            "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
                malformed_body, stripe_api.secret
            )
        },
    )
    for response in (forged, stale, unsigned, malformed):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert forged.json()["title"] == "Invalid signature"
    assert malformed.json()["title"] == "Malformed event"
    assert control_db.execute("SELECT count(*) FROM stripe_events").fetchone() == before
    assert registry(control_db, tenant["id"]) == ("none", "free", False, "active")

    accepted = stripe_api.send(upgrade)
    assert accepted.json()["outcome"] == "applied"
    assert stripe_api.send(upgrade).json()["outcome"] == "duplicate"
    assert registry(control_db, tenant["id"]) == ("active", "standard", False, "active")
    audit = control_db.execute(
        "SELECT actor, action, before->>'tier', after->>'tier', client_ip FROM audit_log "
        "WHERE tenant_id = %s AND action LIKE 'billing.%%'",
        (tenant["id"],),
    ).fetchall()
    assert audit == [
        (
            f"stripe:{upgrade['id']}",
            "billing.customer.subscription.updated",
            "free",
            "standard",
            "127.0.0.1",
        )
    ]


def expected_after(events: list[dict[str, Any]]) -> tuple[str, str, bool, str]:
    """What Stripe's state implies: the newest event decides (billing_rules, by hand)."""
    state, tier = "none", "free"
    for event in sorted(events, key=lambda e: e["created"]):
        if state == "canceled":
            break
        kind, obj = event["type"], event["data"]["object"]
        if kind.startswith("customer.subscription."):  # a snapshot: its plan sets the tier
            tier = next(t for t, p in PLANS.items() if p == obj["items"]["data"][0]["plan"]["id"])
            state = "canceled" if kind.endswith(".deleted") else obj["status"]
        elif kind == "invoice.paid":
            state = "active"
        elif kind == "invoice.payment_failed":
            state = "past_due"
    if state == "canceled":  # closed like the API's offboarding: suspended, restorable
        return state, tier, True, "closing"
    return state, tier, False, "active"


def gone(custom: client.CustomObjectsApi, name: str) -> bool:
    return support.get_tenant(custom, name) is None


def on_tier(custom: client.CustomObjectsApi, name: str, tier: str) -> bool:
    found = support.get_tenant(custom, name)
    return found is not None and found["spec"]["tier"] == tier


@pytest.mark.slow
def test_replay_of_500_events_converges_to_what_stripe_implies(
    api: httpx.Client,
    stripe_api: Stripe,
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    rng = random.Random(5)
    tenants = [signup(api, control_db, "Replay")["tenant"] for _ in range(16)]
    genuine: dict[str, list[dict[str, Any]]] = {}
    for number, tenant in enumerate(tenants):
        events = []
        for _ in range(30):
            kind = rng.choice(
                [
                    "customer.subscription.updated",
                    "customer.subscription.updated",
                    "invoice.paid",
                    "invoice.payment_failed",
                ]
            )
            if kind.startswith("customer.subscription"):
                obj = subscription(
                    tenant,
                    rng.choice(["active", "trialing", "past_due"]),
                    rng.choice(["free", "standard"]),
                )
            else:
                obj = invoice(tenant)
            events.append(stripe_api.event(kind, obj))
        if number % 4 == 0:  # some tenants cancel
            events.append(
                stripe_api.event(
                    "customer.subscription.deleted", subscription(tenant, "canceled", "standard")
                )
            )
        genuine[tenant["id"]] = events
    deliveries = [e for events in genuine.values() for e in events]
    deliveries += rng.sample(deliveries, 100)  # redelivered
    rng.shuffle(deliveries)
    forged = [
        stripe_api.event(
            "customer.subscription.deleted",
            subscription(t, "canceled", "free"),
            created=2_000_000_000,
        )
        for t in tenants
    ]
    assert len(deliveries) + len(forged) >= 500
    for event in deliveries:
        assert stripe_api.send(event).status_code == 200
    for event in forged:
        assert stripe_api.send(event, secret="whsec_forger").status_code == 400

    for tenant in tenants:
        expected = expected_after(genuine[tenant["id"]])
        assert registry(control_db, tenant["id"]) == expected, tenant["slug"]
        if expected[3] == "closing":  # the grace period ends: the sweeper offboards it
            control_db.execute(
                "UPDATE tenants SET offboard_after = now() WHERE id = %s", (tenant["id"],)
            )
            eventually(
                functools.partial(gone, custom, tenant["slug"]), what=f"{tenant['slug']} offboarded"
            )
        else:
            eventually(
                functools.partial(on_tier, custom, tenant["slug"], expected[1]),
                what=f"{tenant['slug']} CR tier",
            )
    processed = control_db.execute(
        "SELECT count(*) FROM stripe_events WHERE tenant_id = ANY(%s)",
        ([uuid.UUID(t["id"]) for t in tenants],),
    ).fetchone()
    assert processed == (sum(len(e) for e in genuine.values()),)


def test_grace_period_suspends_and_payment_resumes(
    api: httpx.Client,
    stripe_api: Stripe,
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    tenant = signup(api, control_db, "Dunning")["tenant"]
    support.wait_ready(custom, tenant["slug"])
    stripe_api.send(
        stripe_api.event("customer.subscription.created", subscription(tenant, "active", "free"))
    )
    assert (
        stripe_api.send(stripe_api.event("invoice.payment_failed", invoice(tenant))).json()[
            "outcome"
        ]
        == "applied"
    )
    assert registry(control_db, tenant["id"])[0] == "past_due"
    control_db.execute("UPDATE tenants SET grace_until = now() WHERE id = %s", (tenant["id"],))
    eventually(
        lambda: registry(control_db, tenant["id"])[:3] == ("suspended", "free", True),
        timeout=20,
        what="suspended after the grace period",
    )
    support.wait_phase(custom, tenant["slug"], "Suspended")
    stripe_api.send(stripe_api.event("invoice.paid", invoice(tenant)))
    assert registry(control_db, tenant["id"])[:3] == ("active", "free", False)
    support.wait_phase(custom, tenant["slug"], "Ready")


def test_upgrade_by_webhook_migrates_the_tenant_to_a_silo(
    api: httpx.Client,
    app: httpx.Client,
    stripe_api: Stripe,
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    body = signup(api, control_db, "Upgrader")
    tenant = body["tenant"]
    support.wait_ready(custom, tenant["slug"])
    assert (
        app.post("/projects", json={"name": "before"}, headers=support.auth(body)).status_code
        == 201
    )
    sent = stripe_api.send(
        stripe_api.event(
            "customer.subscription.updated", subscription(tenant, "active", "enterprise")
        )
    )
    assert sent.json()["outcome"] == "applied"

    def on_silo() -> dict[str, Any] | None:
        found = support.get_tenant(custom, tenant["slug"]) or {}
        status = found.get("status") or {}
        ready = support.condition(found).get("status") == "True"
        done = (status.get("migration") or {}).get("phase") == "Completed"
        return found if status.get("placement") == "silo" and ready and done else None

    moved = eventually(on_silo, timeout=90, what="tenant Ready on a silo")
    assert moved["spec"]["tier"] == "enterprise"
    assert moved["status"]["migration"]["phase"] == "Completed"
    projects = app.get("/projects", headers=support.auth(body)).json()
    assert [p["name"] for p in projects] == ["before"]


def test_plan_catalog_maps_stripe_plans_to_tiers(api: httpx.Client) -> None:
    plans = {plan["id"]: plan for plan in api.get("/plans").json()}
    assert {(p["tier"], p["interval"]) for p in plans.values()} >= {
        ("free", "month"),
        ("standard", "month"),
        ("standard", "year"),
        ("pro", "month"),
        ("pro", "year"),
        ("enterprise", "month"),
        ("enterprise", "year"),
    }
    assert plans["standard-annual"]["amount"] == 29000
    assert plans["free-monthly"]["amount"] == 0


def test_checkout_completion_activates_the_customer(
    api: httpx.Client,
    stripe_api: Stripe,
    control_db: psycopg.Connection[Any],
) -> None:
    tenant = signup(api, control_db, "Checkout")["tenant"]
    session = {
        "id": "cs_test",
        "object": "checkout.session",
        "payment_status": "paid",
        "client_reference_id": tenant["id"],
        "customer": f"cus_{tenant['slug']}",
    }
    sent = stripe_api.send(stripe_api.event("checkout.session.completed", session))
    assert sent.json()["outcome"] == "applied"
    assert control_db.execute(
        "SELECT stripe_customer_id, billing_state FROM tenants WHERE id = %s", (tenant["id"],)
    ).fetchone() == (f"cus_{tenant['slug']}", "active")
