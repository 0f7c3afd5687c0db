"""The audit log: every entry for platform admins, a tenant's own entries for the tenant (if
its plan, an override or a flag gives it the `audit-log` feature)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from control_plane import schemas
from control_plane.api import deps
from control_plane.services import audit, features

router = APIRouter(tags=["audit"])

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="next_cursor of the previous page")
]
Action = Annotated[
    schemas.PlainStr | None, Query(max_length=100, description="an action or its prefix")
]


def _page(entries: list[object], limit: int) -> schemas.AuditPage:
    items = [schemas.AuditEntryPublic.model_validate(e) for e in entries]
    return schemas.AuditPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)


@router.get("/audit", response_model=schemas.AuditPage)
def platform_audit(
    _: deps.PlatformAdmin,
    session: deps.SessionDep,
    tenant_id: uuid.UUID | None = None,
    actor: Annotated[schemas.PlainStr | None, Query(max_length=200)] = None,
    action: Action = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> schemas.AuditPage:
    """Every audit entry, newest first."""
    found = audit.query(
        session=session,
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        before_id=cursor,
        limit=limit,
    )
    return _page(list(found), limit)


@router.get("/tenants/{tenant_id}/audit", response_model=schemas.AuditPage)
def tenant_audit(
    access: deps.AuditReader,
    session: deps.SessionDep,
    actor: Annotated[schemas.PlainStr | None, Query(max_length=200)] = None,
    action: Action = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> schemas.AuditPage:
    """The tenant's own audit entries, newest first: the `audit-log` feature (platform admins
    read any tenant's)."""
    if not access.actor.platform_admin:
        features.require(tenant_id=access.tenant.id, feature=features.AUDIT_LOG)
    found = audit.query(
        session=session,
        tenant_id=access.tenant.id,
        actor=actor,
        action=action,
        before_id=cursor,
        limit=limit,
    )
    return _page(list(found), limit)
