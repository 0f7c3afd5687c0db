"""Tenant webhooks on the real platform: a tenant admin registers a local receiver (http.server
on 127.0.0.1, allowed by the local platform's WEBHOOK_ALLOW_LOOPBACK); suspending, resuming,
a tier change and a failed payment deliver events signed with the endpoint's secret (checked as
the README's snippet does); another tenant's endpoint receives none of them; a private address
is refused with 422; a receiver that fails is retried until it answers."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support, test_notices

pytestmark = pytest.mark.integration


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The README's verification: the HMAC of "t.body", compared in constant time, recent."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that keeps what it is sent; it answers 500 to the next
    `failures` requests."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures = 0
        self.refused = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failures:
                    receiver.failures -= 1
                    receiver.refused += 1
                    self.send_response(500)
                else:
                    receiver.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret: str) -> list[dict[str, Any]]:
        """The events received, each checked against its signature and event id header."""
        found = []
        for headers, body in self.received:
            assert verify(secret, headers["Tenantry-Signature"], body), headers
            event = json.loads(body)
            assert headers["Tenantry-Event-Id"] == event["id"]
            found.append(event)
        return found

    def types(self, secret: str, tenant_id: str) -> list[str]:
        return [e["type"] for e in self.events(secret) if e["tenant_id"] == tenant_id]


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    ours, theirs = Receiver(), Receiver()
    yield ours, theirs
    ours.server.shutdown()
    theirs.server.shutdown()


def register(api: httpx.Client, tid: str, headers: dict[str, str], url: str) -> str:
    made = api.post(f"/tenants/{tid}/webhooks", headers=headers, json={"url": url})
    assert made.status_code == 201, made.text
    secret = str(made.json()["secret"])
    assert secret.startswith("whsec_")
    return secret


def test_lifecycle_events_are_signed_delivered_retried_and_kept_to_their_tenant(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
    receivers: tuple[Receiver, Receiver],
) -> None:
    ours, theirs = receivers
    body, other = (
        support.signup(api, support.unique("Hooked")),
        support.signup(api, support.unique("Neighbour")),
    )
    tid, slug = body["tenant"]["id"], body["tenant"]["slug"]
    admin = support.join(api, tid, support.auth(body), "admin", f"admin@{slug}.example.com")
    keyed = {**admin, "Idempotency-Key": f"hook-{tid}"}
    made = api.post(f"/tenants/{tid}/webhooks", headers=keyed, json={"url": ours.url})
    assert made.status_code == 201, made.text
    replayed = api.post(f"/tenants/{tid}/webhooks", headers=keyed, json={"url": ours.url})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == made.json()  # one endpoint, its secret replayed to its caller
    secret = str(made.json()["secret"])
    other_secret = register(api, other["tenant"]["id"], support.auth(other), theirs.url)
    listed = api.get(f"/tenants/{tid}/webhooks", headers=admin)
    assert listed.status_code == 200
    assert [w["url"] for w in listed.json()] == [ours.url]
    assert "secret" not in listed.json()[0]
    sealed = control_db.execute(
        "SELECT secret_sealed FROM webhook_endpoints WHERE tenant_id = %s", (tid,)
    ).fetchone()
    assert sealed is not None
    assert secret.encode() not in bytes(sealed[0])
    for unsafe in ("https://10.0.0.1/hook", "http://169.254.169.254/latest", "http://example.com/"):
        refused = api.post(f"/tenants/{tid}/webhooks", headers=admin, json={"url": unsafe})
        assert refused.status_code == 422, (unsafe, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"

    support.wait_ready(custom, slug)
    platform = support.admin(api, env)
    assert api.post(f"/tenants/{tid}/suspend", headers=platform).status_code == 200
    support.wait_phase(custom, slug, "Suspended")
    assert api.post(f"/tenants/{tid}/resume", headers=platform).status_code == 200
    support.set_tier(api, env, tid, "standard")
    eventually(
        lambda: (
            {"tenant.suspended", "tenant.resumed", "tenant.tier_changed", "tenant.ready"}
            <= set(ours.types(secret, tid))
        ),
        timeout=60,
        what="suspended, resumed, tier_changed and ready delivered",
    )
    events = ours.events(secret)
    changed = next(e for e in events if e["type"] == "tenant.tier_changed")
    assert changed["data"] == {"tenant_id": tid, "slug": slug, "from": "free", "to": "standard"}
    assert not verify("whsec_wrong", ours.received[0][0]["Tenantry-Signature"], ours.received[0][1])

    # A failed payment, as Stripe signs it, is told too.
    customer, subscription = eventually(
        lambda: control_db.execute(
            "SELECT stripe_customer_id, stripe_subscription_id FROM tenants "
            "WHERE id = %s AND stripe_subscription_id IS NOT NULL",
            (tid,),
        ).fetchone(),
        what="Stripe ids recorded",
    )
    stripe_events = test_notices.Stripe(api, env["STRIPE_WEBHOOK_SECRET"], customer, subscription)
    stripe_events.subscription_event("customer.subscription.created", "trialing")
    assert stripe_events.invoice("invoice.payment_failed", attempt_count=1) == "applied"
    failed = eventually(
        lambda: [e for e in ours.events(secret) if e["type"] == "invoice.payment_failed"],
        what="invoice.payment_failed delivered",
    )
    assert failed[0]["data"]["attempt"] == 1

    # A receiver that fails is retried (with the outbox's backoff) until it answers.
    ours.failures = 2
    before = len(ours.received)
    assert api.post(f"/tenants/{tid}/suspend", headers=platform).status_code == 200
    eventually(lambda: len(ours.received) > before, timeout=60, what="delivered after retries")
    assert ours.refused == 2
    # tenant.suspended among what came since (a tenant.ready of the same change may come too)
    assert "tenant.suspended" in [e["type"] for e in ours.events(secret)[before:]]
    # Committed just after the receiver answered; at least two failed attempts before (a third
    # when an answer came too late for the outbox on a loaded machine: delivery is at least once).
    eventually(
        lambda: (
            (
                (
                    control_db.execute(
                        "SELECT max(attempts) FROM outbox WHERE tenant_id = %s"
                        " AND action = 'deliver_webhook' AND processed_at IS NOT NULL",
                        (tid,),
                    ).fetchone()
                    or (None,)
                )[0]
                or 0
            )
            >= 2
        ),
        timeout=60,
        what="the delivery processed after two failed attempts",
    )

    # The neighbour's endpoint got nothing of this tenant's.
    assert theirs.types(other_secret, tid) == []
    assert all(e["tenant_id"] == other["tenant"]["id"] for e in theirs.events(other_secret))

    # Removing the endpoint stops deliveries to it.
    webhook_id = listed.json()[0]["id"]
    assert api.delete(f"/tenants/{tid}/webhooks/{webhook_id}", headers=admin).status_code == 204
    assert api.get(f"/tenants/{tid}/webhooks", headers=admin).json() == []
