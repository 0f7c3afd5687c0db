"""The control plane's tables: tenants, identities (users, roles, keys, tokens), the outbox of
Kubernetes intents, billing records, the audit log, idempotency records and rate-limit state."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tenantry_core import enums


class Base(DeclarativeBase):
    pass


class Lifecycle(enum.StrEnum):
    ACTIVE = "active"
    CLOSING = "closing"  # offboarding requested: suspended, restorable until offboard_after
    OFFBOARDING = "offboarding"  # the Tenant resource is deleted by its deletionPolicy


class Source(enum.StrEnum):
    SIGNUP = "signup"
    KUBERNETES = "kubernetes"


def _now() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (Index("tenants_company_lower", func.lower(text("company")), unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    # The tenant key: its Tenant's metadata.name (tenantry_core.identity); the API's `slug`.
    tenant_key: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    company: Mapped[str] = mapped_column(String(200), nullable=False)
    tier: Mapped[str] = mapped_column(String(63), nullable=False)
    owner_email: Mapped[str | None] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(
        String(20), nullable=False, default=Source.SIGNUP, server_default=Source.SIGNUP.value
    )
    lifecycle: Mapped[str] = mapped_column(
        String(20), nullable=False, default=Lifecycle.ACTIVE, server_default=Lifecycle.ACTIVE.value
    )
    # Mirrored from the Tenant custom resource by services.mirror.
    phase: Mapped[str] = mapped_column(
        String(20),
        nullable=False,
        default=enums.Phase.PENDING,
        server_default=enums.Phase.PENDING.value,
    )
    placement: Mapped[str | None] = mapped_column(String(10))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    cr_uid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = _now()
    updated_at: Mapped[dt.datetime] = _now()
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

    users: Mapped[list[User]] = relationship(back_populates="tenant")


class User(Base):
    """A person: a member of one tenant with a role, or a platform admin (no tenant)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(is_platform_admin AND tenant_id IS NULL AND role_id IS NULL)"
            " OR (NOT is_platform_admin AND tenant_id IS NOT NULL AND role_id IS NOT NULL)",
            name="users_admin_or_member",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)  # None: signs in through OIDC only
    role_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("roles.id"))
    is_platform_admin: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=text("false")
    )
    # `<issuer>|<sub>` of the OIDC identity that first signed in as this user: pinned after.
    oidc_subject: Mapped[str | None] = mapped_column(String(500), unique=True)
    created_at: Mapped[dt.datetime] = _now()

    tenant: Mapped[Tenant | None] = relationship(back_populates="users")
    role: Mapped[Role | None] = relationship(lazy="joined")


class Role(Base):
    """A named set of permissions: built in (no tenant) or defined by one tenant."""

    __tablename__ = "roles"
    __table_args__ = (
        Index(
            "roles_name_per_tenant",
            func.coalesce(text("tenant_id::text"), text("''")),
            "name",
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, server_default="")
    created_at: Mapped[dt.datetime] = _now()

    grants: Mapped[list[RolePermission]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def builtin(self) -> bool:
        return self.tenant_id is None

    @property
    def permissions(self) -> list[str]:
        return sorted(grant.permission for grant in self.grants)


class RolePermission(Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(63), primary_key=True)


class RefreshToken(Base):
    """One refresh token (stored hashed); rotating it uses it up, reusing it revokes its family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID, nullable=False, index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = _now()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A tenant's API key: shown once, stored hashed, limited to its scopes, revocable."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    prefix: Mapped[str] = mapped_column(String(20), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(63)), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[dt.datetime] = _now()
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(Base):
    """An invitation to join a tenant with a role; its token is shown once, stored hashed."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    invited_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[dt.datetime] = _now()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    role: Mapped[Role] = relationship(lazy="joined")


class OutboxAction(enum.StrEnum):
    APPLY_TENANT = "apply_tenant"
    DELETE_TENANT = "delete_tenant"
    SYNC_BILLING = "sync_billing"  # create the Stripe customer and subscription, or change plan


class OutboxEntry(Base):
    """An intent to change Kubernetes, written in the same transaction as the change it follows."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("outbox_pending", "next_attempt_at", postgresql_where=text("processed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _now()
    next_attempt_at: Mapped[dt.datetime] = _now()
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    tenant: Mapped[Tenant] = relationship()


class Plan(Base):
    """A Stripe plan (or price) id and the Tier it buys."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    tier: Mapped[str] = mapped_column(String(63), nullable=False)
    interval: Mapped[str] = mapped_column(String(10), nullable=False)  # month | year
    amount: Mapped[int] = mapped_column(nullable=False)  # in the currency's minor unit
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="usd")
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    active: Mapped[bool] = mapped_column(nullable=False, default=True, server_default=text("true"))


class StripeEvent(Base):
    """Every Stripe event received, once: its id makes a redelivery a no-op."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    created: Mapped[int] = mapped_column(nullable=False)  # Stripe's unix timestamp
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[dt.datetime] = _now()


class AuditEntry(Base):
    """Who changed what, when, from where: every write of the API and every billing transition.
    Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID, index=True)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    resource: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = _now()


class IdempotencyRecord(Base):
    """The stored response of a POST or PATCH sent with an Idempotency-Key, per actor."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("idempotency_keys_created", "created_at"),)

    actor: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10), nullable=False)
    path: Mapped[str] = mapped_column(String(500), nullable=False)
    body_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int | None] = mapped_column()  # None while the first request runs
    response_body: Mapped[bytes | None] = mapped_column()
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = _now()


class RateLimit(Base):
    """GCRA state of one rate-limited key: its theoretical arrival time."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class UsageReport(Base):
    """A day of a tenant's usage sent to Stripe (once: the key makes a resend a no-op)."""

    __tablename__ = "usage_reports"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    api_calls: Mapped[int] = mapped_column(nullable=False)
    identifier: Mapped[str] = mapped_column(String(120), nullable=False)
    reported_at: Mapped[dt.datetime] = _now()
