"""Usage the app plane metered (API calls per tenant and day): read back, reported to Stripe.

Used by `GET /tenants/{id}/usage` and the usage reporter; the pool is reached with
USAGE_DATABASE_URL (the app's non-privileged role, which may read `tenantry.usage`).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.core import config
from tenantry_core import routing, urls

log = logging.getLogger(__name__)


class UsageUnavailable(Exception):
    """No usage database is configured or it cannot be reached."""


@functools.cache
def _engine(url: str) -> sa.Engine:
    return sa.create_engine(urls.sqlalchemy_url(url), pool_size=2, pool_pre_ping=True)


def daily_usage(tenant_key: str, since: dt.date) -> list[tuple[dt.date, int, int]]:
    """(day, API calls, stored rows) the app plane metered for the tenant since `since`."""
    url = config.get_settings().USAGE_DATABASE_URL
    if not url:
        raise UsageUnavailable("USAGE_DATABASE_URL is not configured")
    try:
        with _engine(url).connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT day, api_calls, stored_rows FROM {routing.USAGE_TABLE} "
                    f"WHERE {routing.TENANT_COLUMN} = :t AND day >= :s ORDER BY day"
                ),
                {"t": tenant_key, "s": since},
            ).all()
    except sa.exc.OperationalError as exc:
        raise UsageUnavailable(str(exc).splitlines()[0]) from exc
    return [(row.day, int(row.api_calls), int(row.stored_rows)) for row in rows]


METER_EVENT = "api_calls"
ROWS_EVENT = "stored_rows"


def report_closed_days(
    session: Session, stripe_client: Any, today: dt.date, lookback_days: int = 7
) -> int:
    """Send each tenant's API calls of every finished day, once, as a Stripe meter event.

    Stripe deduplicates meter events by `identifier` (tenant and day), and `usage_reports`
    records what was sent, so neither a retry nor a crash between the two reports twice."""
    sent = 0
    since = today - dt.timedelta(days=lookback_days)
    billed = session.scalars(
        select(models.Tenant).where(models.Tenant.stripe_customer_id.is_not(None))
    ).all()
    for tenant in billed:
        done = set(
            session.scalars(
                select(models.UsageReport.day).where(
                    models.UsageReport.tenant_id == tenant.id, models.UsageReport.day >= since
                )
            )
        )
        for day, calls, rows in daily_usage(tenant.tenant_key, since):
            if day >= today or day in done:
                continue
            identifier = f"{tenant.id}-{day.isoformat()}"
            end_of_day = dt.datetime.combine(day, dt.time(23, 59, 59), dt.UTC)
            for event, value, suffix in ((METER_EVENT, calls, ""), (ROWS_EVENT, rows, "-rows")):
                stripe_client.v1.billing.meter_events.create(
                    params={
                        "event_name": event,
                        "identifier": identifier + suffix,
                        "timestamp": int(end_of_day.timestamp()),
                        "payload": {
                            "stripe_customer_id": tenant.stripe_customer_id,
                            "value": str(value),
                        },
                    }
                )
            session.add(
                models.UsageReport(
                    tenant_id=tenant.id, day=day, api_calls=calls, identifier=identifier
                )
            )
            session.commit()
            sent += 1
    return sent


class Reporter:
    """Runs `report_closed_days` every `every` seconds in a thread."""

    def __init__(self, sessions: Any, stripe_client: Any, *, every: float) -> None:
        self.sessions, self.stripe_client, self.every = sessions, stripe_client, every
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="usage-reporter", daemon=True)

    def _run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                with self.sessions() as session:
                    report_closed_days(session, self.stripe_client, dt.datetime.now(dt.UTC).date())
            except Exception:  # Stripe or the pool unreachable: the next round retries
                log.exception("usage report failed")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
