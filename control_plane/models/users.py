"""Identities: users, roles and their permissions, and the credentials issued to them (refresh
tokens, API keys, invitations, email verifications), each secret stored as a hash. Used by
services.auth, members, roles, api_keys and verification.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from control_plane.models import base

if TYPE_CHECKING:
    from control_plane.models.tenants import Tenant


class User(base.Base):
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
    # The last sign-in with the password: proof an OIDC identity may be linked to the account.
    password_signed_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # When the user proved they receive mail at `email` (services.verification).
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = base.created_now()

    tenant: Mapped[Tenant | None] = relationship(back_populates="users")
    role: Mapped[Role | None] = relationship(lazy="joined")


class Role(base.Base):
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
    created_at: Mapped[dt.datetime] = base.created_now()

    grants: Mapped[list[RolePermission]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def builtin(self) -> bool:
        return self.tenant_id is None

    @property
    def permissions(self) -> list[str]:
        return sorted(grant.permission for grant in self.grants)


class RolePermission(base.Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(63), primary_key=True)


class RefreshToken(base.Base):
    """One refresh token (stored hashed); rotating it uses it up, reusing it revokes its family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID, nullable=False, index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = base.created_now()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(base.Base):
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
    created_at: Mapped[dt.datetime] = base.created_now()
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Invitation(base.Base):
    """An invitation to join a tenant with a role. Its token exists only in the mail the outbox
    sends (`mailed_at`); stored hashed, none until then."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id"), nullable=False)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[dt.datetime] = base.created_now()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    mailed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    role: Mapped[Role] = relationship(lazy="joined")


class EmailVerification(base.Base):
    """A one-time token mailed to prove a user's email: stored hashed, expiring, used once."""

    __tablename__ = "email_verifications"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = base.created_now()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="joined")
