"""Tenants made with kubectl get an owner (an invitation mailed to `spec.owner.email`) and a Stripe
customer and subscription like a signup's; a Tier marked `billable: false` bills nobody."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from kubernetes import client

from localplatform import mailsink
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def registered(db: psycopg.Connection[Any], slug: str) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT id, stripe_customer_id, stripe_subscription_id FROM tenants "
        "WHERE tenant_key = %s AND offboarded_at IS NULL",
        (slug,),
    ).fetchone()


def invitation_mail(env: dict[str, str], email: str) -> Any:
    return eventually(
        lambda: mailsink.messages(Path(env["TENANTRY_MAILDIR"]), to=email),
        what=f"the invitation mailed to {email}",
    )


def outbox_actions(db: psycopg.Connection[Any], tenant_id: Any) -> list[tuple[str, bool]]:
    rows = db.execute(
        "SELECT action, processed_at IS NOT NULL FROM outbox WHERE tenant_id = %s ORDER BY id",
        (tenant_id,),
    ).fetchall()
    return [(str(action), bool(done)) for action, done in rows]


def test_a_kubectl_tenant_gets_its_owner_invited_by_mail_and_a_stripe_customer(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    name = support.unique("globex")
    email = f"hank@{name}.example.com"
    support.create_tenant(
        custom, name, tier="standard", displayName=f"Globex {name}", owner={"email": email}
    )
    [mail] = invitation_mail(env, email)
    assert mail["Subject"] == f"You are invited to own Globex {name} on Tenantry"
    token = re.search(r"token=(inv_[A-Za-z0-9_\-]+)", mailsink.text(mail))
    assert token is not None, mailsink.text(mail)
    accepted = api.post(
        "/invitations/accept", json={"token": token.group(1), "password": support.PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    owner = support.bearer(accepted.json()["access_token"])
    assert api.get("/auth/me", headers=owner).json()["role"] == "owner"
    again = api.post(
        "/invitations/accept", json={"token": token.group(1), "password": support.PASSWORD}
    )
    assert again.status_code == 404  # used once

    def billed() -> tuple[Any, ...] | None:
        row = registered(control_db, name)
        return row if row and all(row) else None

    tenant_id, customer, subscription = eventually(
        billed, what="Stripe customer and subscription recorded"
    )
    stripe_client = stripe.StripeClient(
        env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}
    )
    assert stripe_client.v1.customers.retrieve(customer).email == email
    current = stripe_client.v1.subscriptions.retrieve(subscription)
    assert current["items"]["data"][0]["plan"]["id"] == "standard-monthly"
    portal = api.post(f"/tenants/{tenant_id}/billing/portal", headers=owner)
    assert portal.status_code == 201, portal.text  # billed like the others
    assert outbox_actions(control_db, tenant_id) == [
        ("invite_owner", True),
        ("sync_billing", True),
    ]


def test_a_tenant_on_a_tier_that_is_not_billable_gets_no_stripe_customer(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    tier = support.unique("internal")
    support.make_tier(custom, tier, billable=False, features=["projects", "notes"])
    eventually(
        lambda: any(t["name"] == tier and not t["billable"] for t in api.get("/tiers").json()),
        what=f"tier {tier} in the catalog, not billable",
    )
    name = support.unique("ops")
    email = f"ops@{name}.example.com"
    support.create_tenant(custom, name, tier=tier, owner={"email": email})
    invitation_mail(env, email)  # the owner is invited all the same
    support.wait_ready(custom, name)
    row = registered(control_db, name)
    assert row is not None
    assert row[1:] == (None, None)
    assert outbox_actions(control_db, row[0]) == [("invite_owner", True)]
    support.delete_tenant(custom, name)
    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tiers", tier)
