"""Seats: on a plan priced per seat, the Stripe subscription's quantity follows the tenant's users
(an invitation accepted, a user removed), prorated, idempotently. Against localstripe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from kubernetes import client
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from control_plane import models
from control_plane.core import config
from control_plane.integrations import stripe_sync
from localplatform import mailsink
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_the_subscription_quantity_follows_the_users(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    tier = support.unique("seats")
    plan = f"{tier}-monthly"
    support.make_tier(custom, tier, features=["projects", "notes"])
    control_db.execute(
        "INSERT INTO plans (id, tier, interval, amount, currency, display_name, per_seat) "
        "VALUES (%s, %s, 'month', 900, 'usd', 'Per seat', true)",
        (plan, tier),
    )
    eventually(
        lambda: any(t["name"] == tier for t in api.get("/tiers").json()), what=f"tier {tier}"
    )
    assert {p["id"]: p["per_seat"] for p in api.get("/plans").json()}[plan] is True
    name = support.unique("team")
    lead = f"lead@{name}.example.com"
    support.create_tenant(custom, name, tier=tier, owner={"email": lead})
    [invited] = eventually(
        lambda: mailsink.messages(Path(env["TENANTRY_MAILDIR"]), to=lead), what="invitation"
    )
    token = re.search(r"token=(inv_[A-Za-z0-9_\-]+)", mailsink.text(invited))
    assert token is not None
    accepted = api.post(
        "/invitations/accept", json={"token": token.group(1), "password": support.PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    owner = support.bearer(accepted.json()["access_token"])
    tenant_id, subscription = eventually(
        lambda: control_db.execute(
            "SELECT id, stripe_subscription_id FROM tenants WHERE tenant_key = %s "
            "AND stripe_subscription_id IS NOT NULL",
            (name,),
        ).fetchone(),
        what="the subscription",
    )
    stripe_client = stripe.StripeClient(
        env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}
    )

    def quantity() -> int:
        item = stripe_client.v1.subscriptions.retrieve(subscription)["items"]["data"][0]
        assert item["plan"]["id"] == plan
        return int(item["quantity"])

    eventually(lambda: quantity() == 1, what="one seat")
    for number in (1, 2):
        support.join(api, str(tenant_id), owner, "member", f"dev{number}@{name}.example.com")
    eventually(lambda: quantity() == 3, what="three seats")
    users = api.get(f"/tenants/{tenant_id}/users", headers=owner).json()
    leaving = next(u["id"] for u in users if u["email"].startswith("dev1@"))
    assert api.delete(f"/tenants/{tenant_id}/users/{leaving}", headers=owner).status_code == 204
    eventually(lambda: quantity() == 2, what="two seats")

    # Every seat change is done; one more (a retry, a late duplicate) changes nothing.
    eventually(
        lambda: (
            control_db.execute(
                "SELECT count(*) FROM outbox WHERE tenant_id = %s AND processed_at IS NULL",
                (tenant_id,),
            ).fetchone()
            == (0,)
        ),
        what="the outbox drained",
    )
    engine = create_engine(env["DATABASE_URL"])
    settings = config.Settings(
        STRIPE_API_KEY=env["STRIPE_API_KEY"], STRIPE_API_BASE=env["STRIPE_API_BASE"]
    )
    with sessionmaker(engine)() as session, session.begin():
        row = session.get(models.Tenant, tenant_id)
        assert row is not None
        again = models.OutboxEntry(
            tenant=row, action=models.OutboxAction.SYNC_BILLING, payload={"seats": True}
        )
        assert stripe_sync.sync(session, again, settings) == "2 seats already"
    engine.dispose()
    assert quantity() == 2

    support.delete_tenant(custom, name)
    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tiers", tier)
    control_db.execute("DELETE FROM plans WHERE id = %s", (plan,))
