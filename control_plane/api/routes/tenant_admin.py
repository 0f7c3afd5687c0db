"""Platform-admin routes over every tenant: list with filters and pages, suspend, resume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.services import audit, tenant_admin

router = APIRouter(prefix="/tenants", tags=["tenant admin"])


@router.get("", response_model=schemas.TenantPage)
def list_tenants(
    _: deps.PlatformAdmin,
    session: deps.SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[schemas.PlainStr | None, Query(max_length=200)] = None,
    tier: Annotated[schemas.PlainStr | None, Query(max_length=63)] = None,
    phase: Annotated[schemas.PlainStr | None, Query(max_length=20)] = None,
    lifecycle: Annotated[Literal["active", "closing", "offboarding"] | None, Query()] = None,
    suspended: bool | None = None,
    q: Annotated[
        schemas.PlainStr | None, Query(max_length=200, description="in company or slug")
    ] = None,
) -> schemas.TenantPage:
    """Every tenant, oldest first; pass `next_cursor` back as `cursor` for the next page."""
    return tenant_admin.list_tenants(
        session,
        limit=limit,
        cursor=cursor,
        tier=tier,
        phase=phase,
        lifecycle=lifecycle,
        suspended=suspended,
        q=q,
    )


@router.post("/{tenant_id}/suspend", response_model=schemas.TenantPublic)
def suspend_tenant(
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.Tenant:
    """Stop the tenant's workload and refuse its app traffic; its data stays."""
    return _set_suspended(access, session, ctx, wake, suspended=True)


@router.post("/{tenant_id}/resume", response_model=schemas.TenantPublic)
def resume_tenant(
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.Tenant:
    return _set_suspended(access, session, ctx, wake, suspended=False)


def _set_suspended(
    access: deps.TenantAccess,
    session: Session,
    ctx: audit.Context,
    wake: Callable[[], None],
    *,
    suspended: bool,
) -> models.Tenant:
    tenant = tenant_admin.set_suspended(session, ctx, access.tenant, suspended)
    wake()
    return tenant
