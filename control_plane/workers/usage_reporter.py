"""The usage reporter: sends each tenant's metered usage of every finished day to Stripe, once.

Started by `control_plane.main` when both Stripe and the usage database are configured; reads
integrations.app_db and sends with integrations.stripe_sync.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.integrations import app_db, stripe_sync

log = logging.getLogger(__name__)


def report_closed_days(
    session: Session, stripe_client: Any, today: dt.date, lookback_days: int = 7
) -> int:
    """Send each tenant's usage of every finished day, once, as Stripe meter events.

    Stripe deduplicates meter events by `identifier` (tenant and day), and `usage_reports`
    records what was sent, so neither a retry nor a crash between the two reports twice."""
    sent = 0
    since = today - dt.timedelta(days=lookback_days)
    billed = session.scalars(
        select(models.Tenant).where(models.Tenant.stripe_customer_id.is_not(None))
    ).all()
    for tenant in billed:
        assert tenant.stripe_customer_id is not None
        done = set(
            session.scalars(
                select(models.UsageReport.day).where(
                    models.UsageReport.tenant_id == tenant.id, models.UsageReport.day >= since
                )
            )
        )
        for day, calls, rows in app_db.daily_usage(tenant.tenant_key, since):
            if day >= today or day in done:
                continue
            identifier = f"{tenant.id}-{day.isoformat()}"
            stripe_sync.report_usage(
                stripe_client,
                customer=tenant.stripe_customer_id,
                identifier=identifier,
                day=day,
                api_calls=calls,
                stored_rows=rows,
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
