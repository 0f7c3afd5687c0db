"""The audit log: every write of the API recorded with who, what, where from, before and after.

Routes build a `Context` from the request (api.deps.AuditDep) and services call `record` in the
same transaction as the change, so an entry exists exactly when the change does. Platform admins
query every entry; a tenant reads only its own (api.routes.audit).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models


@dataclass(frozen=True)
class Context:
    """Who acts (`user:<id>`, `api_key:<id>`, `stripe:<event>`, `tenantry:<worker>`), from where."""

    actor: str
    request_id: str | None = None
    client_ip: str | None = None


def record(
    *,
    session: Session,
    ctx: Context,
    action: str,
    tenant_id: uuid.UUID | None,
    resource: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> models.AuditEntry:
    entry = models.AuditEntry(
        tenant_id=tenant_id,
        actor=ctx.actor,
        action=action,
        resource=resource,
        before=before,
        after=after,
        request_id=ctx.request_id,
        client_ip=ctx.client_ip,
    )
    session.add(entry)
    return entry


def query(
    *,
    session: Session,
    tenant_id: uuid.UUID | None = None,
    actor: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[models.AuditEntry]:
    """Entries newest first; `before_id` is the cursor of the next page."""
    stmt = select(models.AuditEntry).order_by(models.AuditEntry.id.desc()).limit(limit)
    if tenant_id is not None:
        stmt = stmt.where(models.AuditEntry.tenant_id == tenant_id)
    if actor:
        stmt = stmt.where(models.AuditEntry.actor == actor)
    if action:
        stmt = stmt.where(models.AuditEntry.action.startswith(action, autoescape=True))
    if before_id is not None:
        stmt = stmt.where(models.AuditEntry.id < before_id)
    return list(session.scalars(stmt))
