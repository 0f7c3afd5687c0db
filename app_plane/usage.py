"""Usage metering in the app plane: API calls and stored rows per tenant and day.

Requests only bump an in-memory counter; a background thread adds the counts to
`tenantry.usage` in the pool database every few seconds (and at shutdown), with the number of
rows each active tenant stores (counted in its own placement), so metering costs a request
nothing. The control plane reads the totals for billing. A silo's dedicated app has no
pool database and does not meter (its requests through the shared app are counted).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
from collections.abc import Mapping

import sqlalchemy as sa

from app_plane import data, settings
from tenantry_core import routing

log = logging.getLogger(__name__)


def stored_rows(tenant_key: str) -> int | None:
    """The tenant's rows (projects and notes), counted where its data lives; None if it has no
    active placement (suspended or gone)."""
    try:
        with data.tenant_transaction(tenant_key) as conn:
            counted = conn.execute(
                sa.text("SELECT (SELECT count(*) FROM projects) + (SELECT count(*) FROM notes)")
            ).scalar_one()
    except data.TenantUnavailable:
        return None
    return int(counted)


def record(calls: Mapping[tuple[str, dt.date], int]) -> None:
    """Add `calls` per (tenant, day) to the usage table, with each tenant's stored rows now, in
    one transaction."""
    rows = {tenant: stored_rows(tenant) for tenant, _ in calls}
    with data.pool_engine().begin() as conn:
        for (tenant, day), count in sorted(calls.items()):
            conn.execute(
                sa.text(
                    f"INSERT INTO {routing.USAGE_TABLE} AS existing "
                    f"({routing.TENANT_COLUMN}, day, api_calls, stored_rows) "
                    "VALUES (:t, :d, :n, coalesce(:r, 0)) "
                    f"ON CONFLICT ({routing.TENANT_COLUMN}, day) DO UPDATE SET "
                    "api_calls = existing.api_calls + EXCLUDED.api_calls, "
                    "stored_rows = coalesce(:r, existing.stored_rows), "
                    "updated_at = now()"
                ),
                {"t": tenant, "d": day, "n": count, "r": rows[tenant]},
            )


class Meter:
    """Counts API calls per tenant and day in memory; `flush` hands them to `record`, and keeps
    them for the next flush if that fails."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: collections.Counter[tuple[str, dt.date]] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, tenant_key: str) -> None:
        with self._lock:
            self._calls[(tenant_key, dt.datetime.now(dt.UTC).date())] += 1

    def flush(self) -> int:
        """Add the counted calls to the pool database; returns how many calls were written."""
        with self._lock:
            pending, self._calls = self._calls, collections.Counter()
        if not pending:
            return 0
        try:
            record(pending)
        except sa.exc.SQLAlchemyError:
            with self._lock:  # keep the counts for the next flush: none are lost
                self._calls.update(pending)
            log.exception("usage flush failed; retrying later")
            return 0
        return sum(pending.values())

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.flush()

    def start(self, every: float = 2.0) -> None:
        if settings.get_settings().TENANTRY_TENANT_DATABASE_URL:
            return  # a dedicated app has no pool database to write to
        self._thread = threading.Thread(
            target=self._run, args=(every,), daemon=True, name="usage-meter"
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self.flush()


meter = Meter()
