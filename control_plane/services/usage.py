"""A tenant's usage as the app plane metered it: API calls and stored rows per day. Used by
`GET /tenants/{id}/usage` (api.routes.tenants); the numbers come from integrations.app_db.
"""

from __future__ import annotations

import datetime as dt

from control_plane import models, schemas
from control_plane.integrations import app_db
from control_plane.services import errors


def read_usage(*, tenant: models.Tenant, days: int, today: dt.date) -> schemas.UsagePublic:
    """The tenant's usage over the `days` days up to `today`."""
    since = today - dt.timedelta(days=days - 1)
    try:
        counted = app_db.daily_usage(tenant.tenant_key, since)
    except app_db.UsageUnavailable as exc:
        raise errors.Unavailable("Usage unavailable", str(exc)) from exc
    return schemas.UsagePublic(
        tenant_id=tenant.id,
        since=since,
        days=[
            schemas.UsageDay(day=day, api_calls=calls, stored_rows=rows)
            for day, calls, rows in counted
        ],
        total_api_calls=sum(calls for _, calls, _ in counted),
    )
