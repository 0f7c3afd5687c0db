"""A period's usage per meter (which days it holds, which were sent), the calendar month, and
Stripe's invoice preview as the API shows it."""

import datetime as dt
import uuid

from control_plane import models
from control_plane.services import invoices

UTC = dt.UTC


def test_a_day_belongs_to_the_period_holding_its_last_second() -> None:
    start = dt.datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    end = dt.datetime(2026, 12, 21, 10, 0, tzinfo=UTC)
    days = [
        (dt.date(2026, 11, 20), 1000, 900),  # stamped before the period
        (dt.date(2026, 11, 21), 41, 12),  # stamped 23:59:59, after the start: in
        (dt.date(2026, 11, 22), 7, 13),
        (dt.date(2026, 11, 23), 5, 14),  # not sent yet
        (dt.date(2026, 12, 21), 3, 3),  # stamped after the end
    ]
    sent = {dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 22)}
    found = invoices.meters(days, reported=sent, start=start, end=end)
    assert [(m.meter, m.reported, m.unreported) for m in found] == [
        ("api_calls", 48, 5),
        ("stored_rows", 25, 14),
    ]


def test_no_usage_is_zero_for_every_meter() -> None:
    start, end = invoices.calendar_month(dt.datetime(2026, 11, 24, tzinfo=UTC))
    found = invoices.meters([], reported=set(), start=start, end=end)
    assert [(m.meter, m.reported, m.unreported) for m in found] == [
        ("api_calls", 0, 0),
        ("stored_rows", 0, 0),
    ]


def test_the_calendar_month_is_utc_and_ends_at_the_next_one() -> None:
    later = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert invoices.calendar_month(later) == (  # 2027-01-01 04:30 UTC
        dt.datetime(2027, 1, 1, tzinfo=UTC),
        dt.datetime(2027, 2, 1, tzinfo=UTC),
    )
    assert invoices.calendar_month(dt.datetime(2026, 2, 14, tzinfo=UTC))[1] == dt.datetime(
        2026, 3, 1, tzinfo=UTC
    )


def test_an_invoice_preview_as_the_api_shows_it() -> None:
    tenant = models.Tenant(id=uuid.uuid4())
    preview = {  # the shape of Stripe's (and localstripe's) invoice preview
        "amount_due": 4500,
        "subtotal": 4500,
        "total": 4500,
        "currency": "usd",
        "period_start": 1795528980,
        "period_end": 1798120980,
        "next_payment_attempt": None,
        "lines": {
            "data": [
                {
                    "amount": 4500,
                    "description": "Standard",
                    "period": {"start": 1795528980, "end": 1798120980},
                    "plan": {"id": "standard-monthly"},
                    "proration": False,
                    "quantity": 3,
                }
            ]
        },
    }
    shown = invoices.invoice_public(tenant, preview)
    assert (shown.amount_due, shown.currency, shown.next_payment_attempt) == (4500, "usd", None)
    assert shown.period_end == dt.datetime.fromtimestamp(1798120980, UTC)
    [line] = shown.lines
    assert (line.plan, line.quantity, line.amount, line.proration) == (
        "standard-monthly",
        3,
        4500,
        False,
    )
    assert line.period_start == dt.datetime.fromtimestamp(1795528980, UTC)
