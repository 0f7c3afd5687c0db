"""The registry's tenant row: who the tenant is, where its Tenant resource stands (mirrored
by workers.mirror) and its billing state (services.billing).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_plane.models import base
from tenantry_core import enums

if TYPE_CHECKING:
    from control_plane.models.users import User


class Lifecycle(enum.StrEnum):
    ACTIVE = "active"
    CLOSING = "closing"  # offboarding requested: suspended, restorable until offboard_after
    OFFBOARDING = "offboarding"  # the Tenant resource is deleted by its deletionPolicy


class Source(enum.StrEnum):
    SIGNUP = "signup"
    KUBERNETES = "kubernetes"


class Tenant(base.Base):
    __tablename__ = "tenants"
    __table_args__ = (
        # Company names are unique among signups; a Tenant made with kubectl keeps its own.
        Index(
            "tenants_company_lower",
            func.lower(text("company")),
            unique=True,
            postgresql_where=text("source = 'signup'"),
        ),
        # A name has one live registry row; offboarded rows keep theirs as history.
        Index(
            "tenants_tenant_key_live",
            "tenant_key",
            unique=True,
            postgresql_where=text("offboarded_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    # The tenant key: its Tenant's metadata.name (tenantry_core.identity); the API's `slug`.
    tenant_key: Mapped[str] = mapped_column(String(40), nullable=False)
    company: Mapped[str] = mapped_column(String(200), nullable=False)
    tier: Mapped[str] = mapped_column(String(63), nullable=False)
    # The tier a signup asked for, held until its owner verifies their email (it runs on
    # Settings.UNVERIFIED_TIER until then; services.verification releases it).
    requested_tier: Mapped[str | None] = mapped_column(String(63))
    owner_email: Mapped[str | None] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(
        String(20), nullable=False, default=Source.SIGNUP, server_default=Source.SIGNUP.value
    )
    lifecycle: Mapped[str] = mapped_column(
        String(20), nullable=False, default=Lifecycle.ACTIVE, server_default=Lifecycle.ACTIVE.value
    )
    # Mirrored from the Tenant custom resource by workers.mirror.
    phase: Mapped[str] = mapped_column(
        String(20),
        nullable=False,
        default=enums.Phase.PENDING,
        server_default=enums.Phase.PENDING.value,
    )
    placement: Mapped[str | None] = mapped_column(String(10))
    server: Mapped[str | None] = mapped_column(String(63))  # status.server
    migration: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # status.migration
    moves: Mapped[list[dict[str, Any]]] = mapped_column(  # status.moves, newest last
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    backups: Mapped[list[dict[str, Any]]] = mapped_column(  # status.backups, newest last
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    # The Tenant's spec.placement ({isolation, server?}) a platform admin asked for
    # (services.moves), or a change to it made in Kubernetes (workers.mirror follows it).
    placement_request: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The Tenant's spec.restore ({backup, requested}): a live restore a platform admin asked for
    # (services.backups); carried out once its requested stamp is the migration's.
    restore_request: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    cr_uid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = base.created_now()
    updated_at: Mapped[dt.datetime] = base.created_now()
    offboarded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while CLOSING: when the grace period ends and the tenant is really offboarded.
    offboard_after: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # After offboarding: where the data was retained, or the snapshot it was saved to.
    data_retention: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Billing, driven by Stripe events (services.billing).
    suspended: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=text("false")
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    billing_state: Mapped[str] = mapped_column(
        String(20), nullable=False, default="none", server_default="none"
    )
    # The Stripe `created` of the newest event applied: older ones are stale.
    billing_version: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    # The Stripe `created` of the newest subscription snapshot whose plan set the tier.
    billing_tier_version: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    grace_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # A plan waiting to be paid through Stripe Checkout (services.checkout), and its open
    # session: payment is pending until Stripe announces it completed (services.billing).
    checkout_plan: Mapped[str | None] = mapped_column(String(120))
    checkout_session_id: Mapped[str | None] = mapped_column(String(255))

    @property
    def payment_pending(self) -> bool:
        return self.checkout_plan is not None

    # Where the tenant stands in feature rollouts (tenantry_core.flags.Ring; services.flags).
    ring: Mapped[str] = mapped_column(
        String(10), nullable=False, default="all", server_default="all"
    )

    users: Mapped[list[User]] = relationship(back_populates="tenant")
