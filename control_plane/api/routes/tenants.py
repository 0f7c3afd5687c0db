"""`/tenants/{id}`: a tenant's record and status, its own changes (rename, offboard, restore),
its entitlements, subscription and usage. Every route admits only the tenant's own principals
(and platform admins) holding the route's permission."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.core import permissions
from control_plane.services import audit, tenant_admin, usage
from tenantry_core import problems

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.get("/{tenant_id}", response_model=schemas.TenantPublic)
def read_tenant(access: deps.TenantReader) -> models.Tenant:
    """The tenant's registry record and the reconciliation status mirrored from its CR."""
    return access.tenant


@router.patch("/{tenant_id}", response_model=schemas.TenantPublic)
def update_tenant(
    data: schemas.TenantUpdate,
    access: deps.TenantUpdater,
    session: deps.SessionDep,
    tiers: deps.TiersDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.Tenant:
    """Rename the tenant; platform admins may also move it to another tier (which may mean a
    live migration), tenants change tier through their subscription."""
    if data.tier is not None and not access.actor.platform_admin:
        raise problems.Problem(
            403,
            "Forbidden",
            "the tier follows the subscription; change the plan instead",
            permission=permissions.PLATFORM_ADMIN,
        )
    tenant = tenant_admin.update(session, ctx, access.tenant, data, tiers=tiers.names())
    wake()
    return tenant


@router.post("/{tenant_id}/offboard", response_model=schemas.TenantPublic)
def offboard_tenant(
    access: deps.TenantOffboarder,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.Tenant:
    """Close the tenant: suspended now, offboarded (by its deletionPolicy) after the grace
    period in `offboard_after`, restorable until then."""
    grace = dt.timedelta(seconds=settings.OFFBOARD_GRACE_SECONDS)
    tenant = tenant_admin.offboard(session, ctx, access.tenant, grace)
    wake()
    return tenant


@router.post("/{tenant_id}/restore", response_model=schemas.TenantPublic)
def restore_tenant(
    access: deps.TenantOffboarder,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.Tenant:
    """Reopen a closing tenant within its grace period."""
    tenant = tenant_admin.restore(session, ctx, access.tenant)
    wake()
    return tenant


@router.get("/{tenant_id}/entitlements", response_model=schemas.EntitlementsPublic)
def read_entitlements(
    access: deps.BillingReader, tiers: deps.TiersDep
) -> schemas.EntitlementsPublic:
    """What the tenant's plan includes: the features of its Tier."""
    tenant = access.tenant
    catalog = {tier.name: tier for tier in tiers.all()}
    current = catalog.get(tenant.tier)
    return schemas.EntitlementsPublic(
        tenant_id=tenant.id,
        tier=tenant.tier,
        features=sorted(current.features) if current else [],
        rate_limit_per_minute=current.rate_limit_per_minute if current else None,
    )


@router.post(
    "/{tenant_id}/subscription",
    response_model=schemas.SubscriptionChange,
    status_code=202,
    responses={
        404: {"description": "No such tenant visible to the caller"},
        422: {"description": "Unknown plan"},
    },
)
def change_subscription(
    data: schemas.SubscriptionChangeCreate,
    access: deps.BillingManager,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> schemas.SubscriptionChange:
    """Ask Stripe to move the tenant to another plan; the tier changes once Stripe confirms
    it (customer.subscription.updated), which may mean a live migration."""
    tenant = access.tenant
    plan = session.get(models.Plan, data.plan)
    if plan is None or not plan.active:
        raise problems.Problem(
            422,
            "Unknown plan",
            f"plan {data.plan!r} is not offered",
            errors=[{"loc": ["body", "plan"], "msg": "unknown plan", "type": "value_error"}],
        )
    session.add(
        models.OutboxEntry(
            tenant=tenant, action=models.OutboxAction.SYNC_BILLING, payload={"plan": plan.id}
        )
    )
    audit.record(
        session,
        ctx,
        "billing.plan_change_requested",
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        before={"tier": tenant.tier},
        after={"plan": plan.id},
    )
    session.commit()
    wake()
    return schemas.SubscriptionChange(plan=plan.id, tier=plan.tier, status="requested")


@router.get(
    "/{tenant_id}/usage",
    response_model=schemas.UsagePublic,
    responses={
        404: {"description": "No such tenant visible to the caller"},
        503: {"description": "Usage is not available"},
    },
)
def read_usage(
    access: deps.UsageReader, days: Annotated[int, Query(ge=1, le=366)] = 31
) -> schemas.UsagePublic:
    """API calls the app plane metered for the tenant, per day, over the last `days` days."""
    tenant = access.tenant
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
    try:
        counted = usage.daily_usage(tenant.tenant_key, since)
    except usage.UsageUnavailable as exc:
        raise problems.Problem(503, "Usage unavailable", str(exc)) from exc
    return schemas.UsagePublic(
        tenant_id=tenant.id,
        since=since,
        days=[
            schemas.UsageDay(day=day, api_calls=calls, stored_rows=rows)
            for day, calls, rows in counted
        ],
        total_api_calls=sum(calls for _, calls, _ in counted),
    )
