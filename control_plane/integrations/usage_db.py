"""The usage the app plane meters (API calls and stored rows per tenant and day), read from the
pool database with USAGE_DATABASE_URL (the app's non-privileged role, which may read
`tenantry.usage`). Used by services.usage and workers.usage_reporter.
"""

from __future__ import annotations

import datetime as dt
import functools

import sqlalchemy as sa

from control_plane.core import config
from tenantry_core import routing, urls


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
