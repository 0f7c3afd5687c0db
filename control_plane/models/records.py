"""The audit log and the keys of its personal fields (core.shredding), and the API's
per-request state: stored Idempotency-Key responses, rate-limit state and failed sign-ins per
client. Used by services.audit, services.erasure, api.idempotency, tenantry_core.gcra,
api.signin and workers.housekeeping.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models import base


class AuditEntry(base.Base):
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
    client_ip: Mapped[str | None] = mapped_column(String(200))  # sealed (core.shredding)
    created_at: Mapped[dt.datetime] = base.created_now()


class AuditSubjectKey(base.Base):
    """A data subject's key for the audit log's personal fields (core.shredding), kept apart
    from the log. Erasure destroys `key` and forgets whose it was; the row says when."""

    __tablename__ = "audit_subject_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    subject_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = base.created_now()
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyRecord(base.Base):
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
    created_at: Mapped[dt.datetime] = base.created_now()


class RateLimit(base.Base):
    """GCRA state of one rate-limited key: its theoretical arrival time."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SignInFailure(base.Base):
    """A client address's recent failed sign-ins and until when it must wait (api.signin).
    Failures are forgotten after `FORGET_AFTER` without one."""

    __tablename__ = "sign_in_failures"
    FORGET_AFTER = dt.timedelta(hours=1)

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    last_failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    blocked_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
