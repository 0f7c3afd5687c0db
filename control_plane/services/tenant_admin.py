"""Administering tenants: list and filter, rename or re-tier, suspend and resume, offboard with
a grace period and restore within it.

Offboarding first closes the tenant: it is suspended at once and stays restorable until
`offboard_after`; the sweeper (`offboard_expired`) then deletes its Tenant resource, which the
operator offboards by the deletionPolicy. Each change is audited and records its Kubernetes
intent in the outbox, in one transaction. Used by api.routes.tenants and tenant_admin.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.services import audit
from tenantry_core import problems


def view(tenant: models.Tenant) -> dict[str, Any]:
    """What the audit log shows of a tenant before and after a change."""
    return {
        "company": tenant.company,
        "tier": tenant.tier,
        "suspended": tenant.suspended,
        "lifecycle": tenant.lifecycle,
        "offboard_after": tenant.offboard_after.isoformat() if tenant.offboard_after else None,
    }


# -- listing ------------------------------------------------------------------------------------
def encode_cursor(tenant: models.Tenant) -> str:
    raw = f"{tenant.created_at.isoformat()}|{tenant.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, ident = raw.partition("|")
        return dt.datetime.fromisoformat(created), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise problems.Problem(
            422,
            "Invalid cursor",
            "the cursor is not one this API returned",
            errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
        ) from exc


def list_tenants(
    session: Session,
    *,
    limit: int,
    cursor: str | None = None,
    tier: str | None = None,
    phase: str | None = None,
    lifecycle: str | None = None,
    suspended: bool | None = None,
    q: str | None = None,
) -> schemas.TenantPage:
    """Tenants oldest first, `limit` a page, with the cursor of the next page."""
    stmt: Select[Any] = select(models.Tenant).order_by(models.Tenant.created_at, models.Tenant.id)
    if tier:
        stmt = stmt.where(models.Tenant.tier == tier)
    if phase:
        stmt = stmt.where(models.Tenant.phase == phase)
    if lifecycle:
        stmt = stmt.where(models.Tenant.lifecycle == lifecycle)
    if suspended is not None:
        stmt = stmt.where(models.Tenant.suspended.is_(suspended))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            models.Tenant.company.ilike(pattern, escape="\\")
            | models.Tenant.tenant_key.ilike(pattern, escape="\\")
        )
    if cursor:
        created, ident = decode_cursor(cursor)
        stmt = stmt.where(
            (models.Tenant.created_at > created)
            | ((models.Tenant.created_at == created) & (models.Tenant.id > ident))
        )
    rows: list[models.Tenant] = list(session.scalars(stmt.limit(limit + 1)))
    page = rows[:limit]
    return schemas.TenantPage(
        items=[schemas.TenantPublic.model_validate(t) for t in page],
        next_cursor=encode_cursor(page[-1]) if len(rows) > limit else None,
    )


# -- changes ------------------------------------------------------------------------------------
def _commit(
    session: Session,
    ctx: audit.Context,
    tenant: models.Tenant,
    action: str,
    before: dict[str, Any],
    outbox: models.OutboxAction | None = models.OutboxAction.APPLY_TENANT,
) -> models.Tenant:
    after = view(tenant)
    if after != before:
        tenant.updated_at = dt.datetime.now(dt.UTC)
        audit.record(
            session,
            ctx,
            action,
            tenant_id=tenant.id,
            resource=f"tenant:{tenant.id}",
            before=before,
            after=after,
        )
        if outbox is not None:
            session.add(models.OutboxEntry(tenant=tenant, action=outbox))
    session.commit()
    return tenant


def _require_open(tenant: models.Tenant) -> None:
    if tenant.lifecycle == models.Lifecycle.OFFBOARDING:
        raise problems.Problem(409, "Tenant offboarded", "the tenant has been offboarded")


def update(
    session: Session,
    ctx: audit.Context,
    tenant: models.Tenant,
    data: schemas.TenantUpdate,
    *,
    tiers: set[str],
) -> models.Tenant:
    _require_open(tenant)
    before = view(tenant)
    if data.tier is not None and data.tier != tenant.tier:
        if data.tier not in tiers:
            raise problems.Problem(
                422,
                "Unknown tier",
                f"tier {data.tier!r} does not exist",
                errors=[{"loc": ["body", "tier"], "msg": "unknown tier", "type": "value_error"}],
            )
        tenant.tier = data.tier
    if data.company is not None and data.company != tenant.company:
        taken = session.scalar(
            select(models.Tenant.id).where(
                func.lower(models.Tenant.company) == data.company.lower(),
                models.Tenant.id != tenant.id,
            )
        )
        if taken:
            raise problems.Problem(409, "Tenant exists", f"a tenant named {data.company!r} exists")
        tenant.company = data.company
    return _commit(session, ctx, tenant, "tenant.update", before)


def set_suspended(
    session: Session, ctx: audit.Context, tenant: models.Tenant, suspended: bool
) -> models.Tenant:
    _require_open(tenant)
    if not suspended and tenant.lifecycle == models.Lifecycle.CLOSING:
        raise problems.Problem(409, "Tenant closing", "restore the tenant to resume it")
    before = view(tenant)
    tenant.suspended = suspended
    return _commit(session, ctx, tenant, "tenant.suspend" if suspended else "tenant.resume", before)


def offboard(
    session: Session, ctx: audit.Context, tenant: models.Tenant, grace: dt.timedelta
) -> models.Tenant:
    """Close the tenant: suspended now, deleted when the grace period ends (idempotent)."""
    _require_open(tenant)
    if tenant.lifecycle == models.Lifecycle.CLOSING:
        return tenant
    before = view(tenant)
    tenant.lifecycle = models.Lifecycle.CLOSING
    tenant.suspended = True
    tenant.offboard_after = dt.datetime.now(dt.UTC) + grace
    return _commit(session, ctx, tenant, "tenant.offboard", before)


def restore(session: Session, ctx: audit.Context, tenant: models.Tenant) -> models.Tenant:
    """Reopen a closing tenant within its grace period (idempotent for an active one)."""
    if tenant.lifecycle == models.Lifecycle.OFFBOARDING:
        raise problems.Problem(
            409,
            "Grace period over",
            "the tenant has been offboarded; a new tenant can be restored from its retained "
            "data or snapshot (spec.restoreFrom)",
        )
    if tenant.lifecycle == models.Lifecycle.ACTIVE:
        return tenant
    before = view(tenant)
    tenant.lifecycle = models.Lifecycle.ACTIVE
    tenant.offboard_after = None
    tenant.suspended = tenant.billing_state == "suspended"
    return _commit(session, ctx, tenant, "tenant.restore", before)


def offboard_expired(session: Session, now: dt.datetime) -> int:
    """Offboard every closing tenant whose grace period has ended (for the sweeper)."""
    expired = session.scalars(
        select(models.Tenant)
        .where(
            models.Tenant.lifecycle == models.Lifecycle.CLOSING.value,
            models.Tenant.offboard_after <= now,
        )
        .with_for_update(skip_locked=True)
    ).all()
    ctx = audit.Context(actor="tenantry:offboarding")
    for tenant in expired:
        before = view(tenant)
        tenant.lifecycle = models.Lifecycle.OFFBOARDING
        audit.record(
            session,
            ctx,
            "tenant.offboard_grace_ended",
            tenant_id=tenant.id,
            resource=f"tenant:{tenant.id}",
            before=before,
            after=view(tenant),
        )
        session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.DELETE_TENANT))
    return len(expired)
