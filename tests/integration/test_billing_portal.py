"""The customer portal for admins: owners (billing:manage) open the whole portal, admins
(billing:portal) one that offers payment methods and invoices but no cancellation nor plan
change (a portal configuration of the local fake, `localplatform.stripe_fake`); members get a
403 problem."""

from __future__ import annotations

import functools
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def customer_of(db: psycopg.Connection[Any], tenant_id: str) -> str | None:
    row = db.execute("SELECT stripe_customer_id FROM tenants WHERE id = %s", (tenant_id,))
    found = row.fetchone()
    return str(found[0]) if found and found[0] else None


def offers(api: httpx.Client, tid: str, headers: dict[str, str]) -> str:
    opened = api.post(f"/tenants/{tid}/billing/portal", headers=headers)
    assert opened.status_code == 201, opened.text
    page = httpx.get(opened.json()["url"]).text  # the fake's portal page names what it offers
    return page.split("Offers: ", 1)[1].split(".", 1)[0]


def test_admins_open_a_portal_without_cancellation_and_members_none(
    api: httpx.Client, control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Portal"))
    tid, slug, owner = body["tenant"]["id"], body["tenant"]["slug"], support.auth(body)
    eventually(functools.partial(customer_of, control_db, tid), what="Stripe customer")
    admin = support.join(api, tid, owner, "admin", f"admin@{slug}.example.com")
    member = support.join(api, tid, owner, "member", f"member@{slug}.example.com")

    assert offers(api, tid, owner) == (
        "payment_method_update, invoice_history, subscription_cancel, subscription_update"
    )
    assert offers(api, tid, admin) == "payment_method_update, invoice_history"
    refused = api.post(f"/tenants/{tid}/billing/portal", headers=member)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["permission"] == "billing:portal"
    # Plan changes stay with the owner.
    upgrade = {"plan": "standard-monthly"}
    checkout = api.post(f"/tenants/{tid}/billing/checkout", headers=admin, json=upgrade)
    assert checkout.status_code == 403
    opened = control_db.execute(
        "SELECT after->>'portal' FROM audit_log WHERE tenant_id = %s"
        " AND action = 'billing.portal_opened' ORDER BY id",
        (tid,),
    ).fetchall()
    assert opened == [("full",), ("payment methods and invoices",)]
