"""The outbox: intents to change Kubernetes or Stripe, or to send a mail, written in the
transaction of the change they follow and carried out by workers.outbox.

An entry is pending until it is processed, or until it has failed `OUTBOX_MAX_ATTEMPTS` times:
then it is a dead letter (`dead_at`) that waits for a platform admin's retry (services.outbox).
Each entry keeps the trace it was written in (`traceparent`, W3C), which the worker continues.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_plane.models import base
from tenantry_core import tracing

if TYPE_CHECKING:
    from control_plane.models.tenants import Tenant


class OutboxAction(enum.StrEnum):
    APPLY_TENANT = "apply_tenant"
    DELETE_TENANT = "delete_tenant"
    SYNC_BILLING = "sync_billing"  # create the Stripe customer and subscription, or change plan
    SEND_MAIL = "send_mail"  # one message of services.notices to the tenant's billing contact
    INVITE_OWNER = "invite_owner"  # a kubectl Tenant's spec.owner.email: invited, link mailed
    SEND_INVITATION = "send_invitation"  # an invitation made in the API: its token, mailed
    DELIVER_WEBHOOK = "deliver_webhook"  # one tenant event to one of its webhook endpoints


class OutboxState(enum.StrEnum):
    """Where an entry is: waiting to be (re)tried, or given up on until someone retries it."""

    PENDING = "pending"
    DEAD = "dead"


class OutboxEntry(base.Base):
    """An intent to change Kubernetes, written in the same transaction as the change it follows."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "outbox_pending",
            "next_attempt_at",
            postgresql_where=text("processed_at IS NULL AND dead_at IS NULL"),
        ),
        Index("outbox_dead", "id", postgresql_where=text("dead_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = base.created_now()
    next_attempt_at: Mapped[dt.datetime] = base.created_now()
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The trace of the change that wrote the entry (its W3C traceparent), when it was traced.
    traceparent: Mapped[str | None] = mapped_column(
        String(100), default=lambda: tracing.traceparent()
    )

    tenant: Mapped[Tenant] = relationship()
