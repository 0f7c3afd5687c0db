"""Finished days of metered usage go to Stripe once each, as meter events."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from control_plane.core import config
from control_plane.workers import usage_reporter
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


class RecordingStripe:
    """Our boundary with Stripe (the client the reporter is given), recording meter events:
    localstripe does not implement them."""

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


def customer_of(db: psycopg.Connection[Any], tenant_id: str) -> str | None:
    row = db.execute(
        "SELECT stripe_customer_id FROM tenants WHERE id = %s", (tenant_id,)
    ).fetchone()
    return str(row[0]) if row and row[0] else None


def test_each_finished_day_is_reported_once(
    api: httpx.Client,
    control_db: psycopg.Connection[Any],
    pool_admin: psycopg.Connection[Any],
    session: Session,
) -> None:
    tenant = support.signup(api, support.unique("Metered"))["tenant"]
    customer = eventually(
        functools.partial(customer_of, control_db, tenant["id"]), what="Stripe customer"
    )
    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    for day, calls, rows in ((yesterday, 41, 12), (today, 5, 13)):
        pool_admin.execute(
            "INSERT INTO tenantry.usage (tenant_key, day, api_calls, stored_rows) "
            "VALUES (%s, %s, %s, %s)",
            (tenant["slug"], day, calls, rows),
        )
    stripe = RecordingStripe()

    assert usage_reporter.report_closed_days(session, stripe, today) >= 1
    mine = [e for e in stripe.events if e["identifier"].startswith(tenant["id"])]
    end_of_day = int(dt.datetime.combine(yesterday, dt.time(23, 59, 59), dt.UTC).timestamp())
    key = f"{tenant['id']}-{yesterday.isoformat()}"
    assert mine == [
        {
            "event_name": "api_calls",
            "identifier": key,
            "timestamp": end_of_day,
            "payload": {"stripe_customer_id": customer, "value": "41"},
        },
        {
            "event_name": "stored_rows",
            "identifier": key + "-rows",
            "timestamp": end_of_day,
            "payload": {"stripe_customer_id": customer, "value": "12"},
        },
    ]

    again = RecordingStripe()
    usage_reporter.report_closed_days(session, again, today)
    assert [e for e in again.events if e["identifier"].startswith(tenant["id"])] == []
    assert control_db.execute(
        "SELECT day, api_calls FROM usage_reports WHERE tenant_id = %s", (tenant["id"],)
    ).fetchall() == [(yesterday, 41)]
