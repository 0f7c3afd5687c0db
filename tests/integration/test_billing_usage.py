"""A tenant reads its current billing period's metered usage, per Stripe meter (what was sent
as meter events and what is not yet), and a preview of its upcoming invoice from Stripe
(localstripe's `create_preview`)."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from control_plane.core import config
from control_plane.workers import usage_reporter
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration
DAY = 86400


class RecordingStripe:
    """The usage reporter's Stripe client, recording meter events (localstripe has none)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        meter_events = SimpleNamespace(create=lambda params: self.events.append(params))
        self.v1 = SimpleNamespace(billing=SimpleNamespace(meter_events=meter_events))


@pytest.fixture
def session(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setenv("APP_DATABASE_URL", env["APP_DATABASE_URL"])
    monkeypatch.setenv("DATABASE_URL", env["DATABASE_URL"])
    config.get_settings.cache_clear()
    engine = create_engine(env["DATABASE_URL"])
    with sessionmaker(engine)() as opened:
        yield opened
    engine.dispose()
    config.get_settings.cache_clear()


def billing_ids(db: psycopg.Connection[Any], tenant_id: str) -> tuple[str, str] | None:
    row = db.execute(
        "SELECT stripe_customer_id, stripe_subscription_id FROM tenants WHERE id = %s",
        (tenant_id,),
    ).fetchone()
    return (str(row[0]), str(row[1])) if row and all(row) else None


def moment(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


def test_usage_of_the_period_and_the_upcoming_invoice(
    api: httpx.Client,
    env: dict[str, str],
    control_db: psycopg.Connection[Any],
    pool_admin: psycopg.Connection[Any],
    session: Session,
) -> None:
    body = support.signup(api, support.unique("Invoiced"))
    tid, slug, owner = body["tenant"]["id"], body["tenant"]["slug"], support.auth(body)
    customer, _ = eventually(functools.partial(billing_ids, control_db, tid), what="billing")
    # A subscription on a paid plan that started three days ago (localstripe backdates it).
    plan = next(p for p in api.get("/plans").json() if p["amount"] and p["interval"] == "month")
    stripe_client = stripe.StripeClient(
        env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]}
    )
    try:
        stripe_client.v1.plans.retrieve(plan["id"])
    except stripe.InvalidRequestError:
        stripe_client.v1.plans.create(
            params={
                "id": plan["id"],
                "product": {"name": plan["id"]},
                "amount": plan["amount"],
                "currency": plan["currency"],
                "interval": "month",
            }
        )
    card = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    stripe_client.v1.payment_methods.attach(card.id, params={"customer": customer})
    stripe_client.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    started = stripe_client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [{"plan": plan["id"]}],
            "backdate_start_date": int(time.time()) - 3 * DAY,
        }
    )
    control_db.execute(
        "UPDATE tenants SET stripe_subscription_id = %s WHERE id = %s", (started.id, tid)
    )
    start, end = started.to_dict()["current_period_start"], started.to_dict()["current_period_end"]

    # Usage before the period, in it (finished days, sent to Stripe by the reporter) and today.
    today = dt.datetime.now(dt.UTC).date()
    for back, calls, rows in ((6, 1000, 900), (2, 41, 12), (1, 7, 13), (0, 5, 14)):
        pool_admin.execute(
            "INSERT INTO tenantry.usage (tenant_key, day, api_calls, stored_rows) "
            "VALUES (%s, %s, %s, %s)",
            (slug, today - dt.timedelta(days=back), calls, rows),
        )
    recording = RecordingStripe()
    usage_reporter.report_closed_days(session, recording, today)
    sent = {
        meter: sum(
            int(e["payload"]["value"])
            for e in recording.events
            if e["identifier"].startswith(tid)
            and e["event_name"] == meter
            and start <= e["timestamp"] < end
        )
        for meter in ("api_calls", "stored_rows")
    }
    assert sent == {"api_calls": 48, "stored_rows": 25}

    usage = api.get(f"/tenants/{tid}/billing/usage", headers=owner)
    assert usage.status_code == 200, usage.text
    found = usage.json()
    assert (found["period_start"], found["period_end"], found["period_source"]) == (
        moment(start).isoformat().replace("+00:00", "Z"),
        moment(end).isoformat().replace("+00:00", "Z"),
        "subscription",
    )
    assert found["meters"] == [
        {"meter": "api_calls", "reported": sent["api_calls"], "unreported": 5},
        {"meter": "stored_rows", "reported": sent["stored_rows"], "unreported": 14},
    ]

    upcoming = api.get(f"/tenants/{tid}/billing/upcoming", headers=owner)
    assert upcoming.status_code == 200, upcoming.text
    invoice = upcoming.json()
    assert (invoice["amount_due"], invoice["currency"]) == (plan["amount"], plan["currency"])
    [line] = invoice["lines"]
    assert (line["plan"], line["amount"], line["quantity"]) == (plan["id"], plan["amount"], 1)
    assert line["period_end"] == moment(end).isoformat().replace("+00:00", "Z")

    # A viewer reads billing too (billing:read); another tenant's owner finds nothing.
    viewer = support.join(api, tid, owner, "viewer", f"viewer@{slug}.example.com")
    assert api.get(f"/tenants/{tid}/billing/upcoming", headers=viewer).status_code == 200
    stranger = support.auth(support.signup(api, support.unique("Stranger")))
    for path in ("usage", "upcoming"):
        other = api.get(f"/tenants/{tid}/billing/{path}", headers=stranger)
        assert other.status_code == 404
        assert other.headers["content-type"] == "application/problem+json"

    # Without a subscription: the UTC month, and no upcoming invoice (409 problem).
    control_db.execute("UPDATE tenants SET stripe_subscription_id = NULL WHERE id = %s", (tid,))
    month = api.get(f"/tenants/{tid}/billing/usage", headers=owner).json()
    assert month["period_source"] == "calendar_month"
    assert month["period_start"] == today.replace(day=1).isoformat() + "T00:00:00Z"
    none = api.get(f"/tenants/{tid}/billing/upcoming", headers=owner)
    assert none.status_code == 409
    assert none.headers["content-type"] == "application/problem+json"
