"""Feature flags and per-tenant overrides: the registry's side of `tenantry_core.flags` (each
tenant's ring is `Tenant.ring`). Written by services.flags, which publishes them to the pool.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ARRAY, ForeignKey, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models import base


class FeatureFlag(base.Base):
    """A feature's rollout: the tenants, ring and percentage it reaches (`enabled` off: none)."""

    __tablename__ = "feature_flags"

    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(nullable=False)
    tenants: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID), nullable=False, default=list)
    ring: Mapped[str | None] = mapped_column(String(10))
    percentage: Mapped[int] = mapped_column(nullable=False, default=0)
    created_at: Mapped[dt.datetime] = base.created_now()
    updated_at: Mapped[dt.datetime] = base.created_now()


class FeatureOverride(base.Base):
    """A platform admin's grant (`enabled`) or removal of one feature for one tenant."""

    __tablename__ = "feature_overrides"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    feature: Mapped[str] = mapped_column(String(63), primary_key=True)
    enabled: Mapped[bool] = mapped_column(nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    created_at: Mapped[dt.datetime] = base.created_now()
