"""What a tenant pays for this period: its metered usage as reported to Stripe's meters, and a
preview of its upcoming invoice.

The period is the Stripe subscription's current one (integrations.stripe_sync), or the UTC
calendar month for a tenant without a subscription (billing off, or a non-billable Tier). A
day's usage belongs to the period that holds its meter events' timestamp (the day's last
second, as workers.usage_reporter stamps them); `usage_reports` says which days were sent.
The upcoming invoice is Stripe's preview of the subscription's next invoice, lines and amounts
as Stripe computes them. Used by api.routes.billing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any, Literal

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import config
from control_plane.integrations import app_db, stripe_sync
from control_plane.services import errors

log = structlog.get_logger(__name__)
Day = tuple[dt.date, int, int]  # (day, API calls, stored rows), as integrations.app_db reads it


def stamped(day: dt.date) -> dt.datetime:
    """When a day's meter events are stamped: its last second (workers.usage_reporter)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), dt.UTC)


def calendar_month(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The UTC month holding `now`: [its first midnight, the next month's)."""
    start = now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def meters(
    days: Iterable[Day], *, reported: Collection[dt.date], start: dt.datetime, end: dt.datetime
) -> list[schemas.MeterUsage]:
    """Each meter's usage in [start, end): what was sent (the days in `reported`) and what was
    not yet (later days, today's running count)."""
    totals = {stripe_sync.METER_EVENT: [0, 0], stripe_sync.ROWS_EVENT: [0, 0]}
    for day, calls, rows in days:
        if not start <= stamped(day) < end:
            continue
        column = 0 if day in reported else 1
        totals[stripe_sync.METER_EVENT][column] += calls
        totals[stripe_sync.ROWS_EVENT][column] += rows
    return [
        schemas.MeterUsage(meter=name, reported=sent, unreported=pending)
        for name, (sent, pending) in totals.items()
    ]


def _unavailable(exc: Exception) -> errors.Unavailable:
    log.warning("billing read failed", reason=str(exc))
    return errors.Unavailable("Billing unavailable", "Stripe cannot be reached now", retry_after=5)


def usage(
    *, session: Session, settings: config.Settings, tenant: models.Tenant, now: dt.datetime
) -> schemas.BillingUsagePublic:
    """The tenant's metered usage in its current billing period, per meter."""
    source: Literal["subscription", "calendar_month"] = "calendar_month"
    start, end = calendar_month(now)
    if settings.STRIPE_API_KEY and tenant.stripe_subscription_id:
        try:
            first, last = stripe_sync.current_period(settings, tenant.stripe_subscription_id)
        except stripe_sync.BillingUnavailable as exc:
            raise _unavailable(exc) from exc
        source = "subscription"
        start, end = (
            dt.datetime.fromtimestamp(first, dt.UTC),
            dt.datetime.fromtimestamp(last, dt.UTC),
        )
    try:
        counted = app_db.daily_usage(tenant.tenant_key, (start - dt.timedelta(days=1)).date())
    except app_db.UsageUnavailable as exc:
        raise errors.Unavailable("Usage unavailable", str(exc)) from exc
    sent = set(
        session.scalars(
            select(models.UsageReport.day).where(
                models.UsageReport.tenant_id == tenant.id,
                models.UsageReport.day >= (start - dt.timedelta(days=1)).date(),
            )
        )
    )
    return schemas.BillingUsagePublic(
        tenant_id=tenant.id,
        period_start=start,
        period_end=end,
        period_source=source,
        meters=meters(counted, reported=sent, start=start, end=end),
    )


def _moment(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), dt.UTC) if value is not None else None


def invoice_public(tenant: models.Tenant, invoice: dict[str, Any]) -> schemas.UpcomingInvoicePublic:
    """Stripe's invoice preview as the API shows it (pure)."""
    lines = []
    for line in (invoice.get("lines") or {}).get("data") or []:
        period = line.get("period") or {}
        plan = line.get("plan") or line.get("price") or {}
        lines.append(
            schemas.InvoiceLine(
                description=line.get("description"),
                plan=plan.get("id"),
                quantity=line.get("quantity"),
                amount=int(line.get("amount") or 0),
                proration=bool(line.get("proration")),
                period_start=_moment(period.get("start")),
                period_end=_moment(period.get("end")),
            )
        )
    return schemas.UpcomingInvoicePublic(
        tenant_id=tenant.id,
        currency=str(invoice.get("currency") or ""),
        amount_due=int(invoice.get("amount_due") or 0),
        subtotal=int(invoice.get("subtotal") or 0),
        total=int(invoice.get("total") or 0),
        period_start=_moment(invoice.get("period_start")),
        period_end=_moment(invoice.get("period_end")),
        next_payment_attempt=_moment(invoice.get("next_payment_attempt")),
        lines=lines,
    )


def upcoming(*, settings: config.Settings, tenant: models.Tenant) -> schemas.UpcomingInvoicePublic:
    """A preview of the tenant's next invoice (errors.Conflict without a subscription or when
    Stripe has none to show)."""
    if not (
        settings.STRIPE_API_KEY and tenant.stripe_customer_id and tenant.stripe_subscription_id
    ):
        raise errors.Conflict("No subscription", "the tenant has no Stripe subscription")
    try:
        found = stripe_sync.upcoming_invoice(
            settings, customer=tenant.stripe_customer_id, subscription=tenant.stripe_subscription_id
        )
    except stripe_sync.BillingUnavailable as exc:
        raise _unavailable(exc) from exc
    if found is None:
        raise errors.Conflict("No upcoming invoice", "Stripe has no upcoming invoice to show")
    return invoice_public(tenant, found)
