"""Billing records: the plan catalog, every Stripe event received, and the usage reported to
Stripe. Used by services.billing, integrations.stripe_sync and workers.usage_reporter.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Date, ForeignKey, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models import base


class Plan(base.Base):
    """A Stripe plan (or price) id and the Tier it buys."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    tier: Mapped[str] = mapped_column(String(63), nullable=False)
    interval: Mapped[str] = mapped_column(String(10), nullable=False)  # month | year
    amount: Mapped[int] = mapped_column(nullable=False)  # in the currency's minor unit
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="usd")
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    active: Mapped[bool] = mapped_column(nullable=False, default=True, server_default=text("true"))
    # Priced per seat: the subscription's quantity follows the tenant's users.
    per_seat: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=text("false")
    )


class StripeEvent(base.Base):
    """Every Stripe event received, once: its id makes a redelivery a no-op."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    created: Mapped[int] = mapped_column(nullable=False)  # Stripe's unix timestamp
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[dt.datetime] = base.created_now()


class UsageReport(base.Base):
    """A day of a tenant's usage sent to Stripe (once: the key makes a resend a no-op)."""

    __tablename__ = "usage_reports"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    api_calls: Mapped[int] = mapped_column(nullable=False)
    identifier: Mapped[str] = mapped_column(String(120), nullable=False)
    reported_at: Mapped[dt.datetime] = base.created_now()
