"""Usage the app plane metered (API calls per tenant and day), read from the pool database.

Used by `GET /tenants/{id}/usage`; the pool is reached with USAGE_DATABASE_URL (the app's
non-privileged role, which may read `tenantry.usage`).
"""

from __future__ import annotations

import datetime as dt
import functools

import sqlalchemy as sa

from control_plane.core import config


class UsageUnavailable(Exception):
    """No usage database is configured or it cannot be reached."""


@functools.cache
def _engine(url: str) -> sa.Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_size=2, pool_pre_ping=True)


def daily_calls(tenant_key: str, since: dt.date) -> list[tuple[dt.date, int]]:
    url = config.get_settings().USAGE_DATABASE_URL
    if not url:
        raise UsageUnavailable("USAGE_DATABASE_URL is not configured")
    try:
        with _engine(url).connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT day, api_calls FROM tenantry.usage WHERE tenant_id = :t AND day >= :s "
                    "ORDER BY day"
                ),
                {"t": tenant_key, "s": since},
            ).all()
    except sa.exc.OperationalError as exc:
        raise UsageUnavailable(str(exc).splitlines()[0]) from exc
    return [(row.day, int(row.api_calls)) for row in rows]
