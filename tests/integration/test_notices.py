"""Telling people: a failed payment mails the dunning notice with a portal link, the grace period
suspends the tenant and a payment resumes it, each with its mail, read from the local SMTP sink;
a trial ending and a cancellation's offboarding are told too. Every mail comes from the outbox,
once."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from kubernetes import client

from control_plane.services import notices
from localplatform import mailsink
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


class Stripe:
    """Signs events for one tenant's customer and subscription as Stripe would, and posts them."""

    def __init__(self, api: httpx.Client, secret: str, customer: str, subscription: str) -> None:
        self.api, self.secret = api, secret
        self.customer, self.subscription = customer, subscription
        self.clock = int(time.time()) - 600

    def send(self, kind: str, **obj: Any) -> str:
        self.clock += 1
        body = json.dumps(
            {
                "id": f"evt_{uuid.uuid4().hex}",
                "object": "event",
                "type": kind,
                "created": self.clock,
                "data": {"object": {"customer": self.customer, **obj}},
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(body, self.secret)
        sent = self.api.post(
            "/billing/stripe/webhook", content=body, headers={"Stripe-Signature": header}
        )
        assert sent.status_code == 200, sent.text
        return str(sent.json()["outcome"])

    def subscription_event(self, kind: str, status: str, **extra: Any) -> str:
        items = {"data": [{"plan": {"id": "free-monthly"}}]}
        return self.send(kind, id=self.subscription, status=status, items=items, **extra)

    def invoice(self, kind: str, **extra: Any) -> str:
        return self.send(
            kind, id=f"in_{uuid.uuid4().hex[:10]}", subscription=self.subscription, **extra
        )


def mails(env: dict[str, str], to: str) -> list[Any]:
    return mailsink.messages(Path(env["TENANTRY_MAILDIR"]), to=to)


def mail(env: dict[str, str], to: str, subject: str) -> Any:
    """The one mail to `to` whose subject starts with `subject`, once it arrived."""

    def arrived() -> Any:
        found = [m for m in mails(env, to) if str(m["Subject"]).startswith(subject)]
        return found[-1] if found else None

    return eventually(arrived, what=f"mail {subject!r} to {to}")


def html(message: Any) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return str(part.get_payload(decode=True).decode())
    return ""


def state(db: psycopg.Connection[Any], tenant_id: str) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT billing_state, suspended, lifecycle FROM tenants WHERE id = %s", (tenant_id,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_dunning_suspension_and_resumption_are_each_mailed_once(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    body = support.signup(api, support.unique("Dunned"))
    tenant, email = body["tenant"], support.owner_email(body)
    customer, subscription = eventually(
        lambda: control_db.execute(
            "SELECT stripe_customer_id, stripe_subscription_id FROM tenants "
            "WHERE id = %s AND stripe_subscription_id IS NOT NULL",
            (tenant["id"],),
        ).fetchone(),
        what="Stripe ids recorded",
    )
    support.wait_ready(custom, tenant["slug"])
    events = Stripe(api, env["STRIPE_WEBHOOK_SECRET"], customer, subscription)
    assert events.subscription_event("customer.subscription.created", "trialing") == "applied"

    trial_end = int(time.time()) + 3 * 24 * 3600
    told = events.subscription_event(
        "customer.subscription.trial_will_end", "trialing", trial_end=trial_end
    )
    assert told == "applied"
    ending = mail(env, email, "Your ")
    assert mailsink.text(ending).count("/portal/bps_") == 1  # a portal session of the fake

    assert events.invoice("invoice.payment_failed", attempt_count=1) == "applied"
    first = mail(env, email, "Payment failed")
    assert first["Subject"] == f"Payment failed for {tenant['company']} (attempt 1)"
    portal = next(w for w in mailsink.text(first).split() if "/portal/bps_" in w)
    assert customer in httpx.get(portal).text  # the link opens the tenant's customer portal
    assert f'href="{portal}"' in html(first)
    assert events.invoice("invoice.payment_failed", attempt_count=2) == "applied"
    assert mail(env, email, f"Payment failed for {tenant['company']} (attempt 2)")
    assert state(control_db, tenant["id"]) == ("past_due", False, "active")

    control_db.execute("UPDATE tenants SET grace_until = now() WHERE id = %s", (tenant["id"],))
    suspended = mail(env, email, f"{tenant['company']} is suspended")
    assert "/portal/bps_" in mailsink.text(suspended)
    assert state(control_db, tenant["id"]) == ("suspended", True, "active")
    support.wait_phase(custom, tenant["slug"], "Suspended")

    assert events.invoice("invoice.paid") == "applied"
    resumed = mail(env, email, f"{tenant['company']} is running again")
    assert "running again" in html(resumed)
    support.wait_phase(custom, tenant["slug"], "Ready")

    def drained() -> bool:
        pending = control_db.execute(
            "SELECT count(*) FROM outbox WHERE tenant_id = %s AND action = 'send_mail' "
            "AND processed_at IS NULL",
            (tenant["id"],),
        ).fetchone()
        return pending == (0,)

    eventually(drained, what="every mail sent")
    subjects = Counter(str(m["Subject"]).split(" (")[0] for m in mails(env, email))
    assert subjects == {
        "Verify your email address": 1,
        f"Your {tenant['company']} trial ends on {notices.day(trial_end)}": 1,
        f"Payment failed for {tenant['company']}": 2,
        f"{tenant['company']} is suspended": 1,
        f"{tenant['company']} is running again": 1,
    }


def test_a_cancellation_mails_the_offboarding_scheduled_then_completed(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    body = support.signup(api, support.unique("Leaver"))
    tenant, email = body["tenant"], support.owner_email(body)
    customer, subscription = eventually(
        lambda: control_db.execute(
            "SELECT stripe_customer_id, stripe_subscription_id FROM tenants "
            "WHERE id = %s AND stripe_subscription_id IS NOT NULL",
            (tenant["id"],),
        ).fetchone(),
        what="Stripe ids recorded",
    )
    events = Stripe(api, env["STRIPE_WEBHOOK_SECRET"], customer, subscription)
    assert events.subscription_event("customer.subscription.deleted", "canceled") == "applied"
    scheduled = mail(env, email, f"{tenant['company']} will be offboarded on")
    assert f"/api/v1/tenants/{tenant['id']}/restore" in mailsink.text(scheduled)
    assert state(control_db, tenant["id"]) == ("canceled", True, "closing")

    control_db.execute("UPDATE tenants SET offboard_after = now() WHERE id = %s", (tenant["id"],))
    completed = mail(env, email, f"{tenant['company']} has been offboarded")
    assert "can no longer sign in" in mailsink.text(completed)
    assert support.get_tenant(custom, tenant["slug"]) is None
