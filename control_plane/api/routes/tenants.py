"""`/tenants`: platform admins list every tenant and suspend or resume one; a tenant's own
principals (and platform admins) read its record and status, rename, offboard and restore it,
and read its entitlements, change its subscription and read its usage, each route holding its
permission. The work is services.tenants' (and services.plans' and services.usage's); each
change wakes the outbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.services import features, plans, tenants, usage

every_tenant = APIRouter(prefix="/tenants", tags=["tenant admin"])
one_tenant = APIRouter(prefix="/tenants", tags=["tenants"])


# -- platform admins, over every tenant ---------------------------------------------------------
@every_tenant.get("", response_model=schemas.TenantPage)
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
    return tenants.list_tenants(
        session=session,
        limit=limit,
        cursor=cursor,
        tier=tier,
        phase=phase,
        lifecycle=lifecycle,
        suspended=suspended,
        q=q,
    )


@every_tenant.post("/{tenant_id}/suspend", response_model=schemas.TenantPublic)
def suspend_tenant(
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.Tenant:
    """Stop the tenant's workload and refuse its app traffic; its data stays."""
    tenant = tenants.set_suspended(session=session, ctx=ctx, tenant=access.tenant, suspended=True)
    wake()
    return tenant


@every_tenant.post("/{tenant_id}/resume", response_model=schemas.TenantPublic)
def resume_tenant(
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.Tenant:
    tenant = tenants.set_suspended(session=session, ctx=ctx, tenant=access.tenant, suspended=False)
    wake()
    return tenant


# -- one tenant, for its own principals ---------------------------------------------------------
@one_tenant.get("/{tenant_id}", response_model=schemas.TenantPublic)
def read_tenant(access: deps.TenantReader) -> models.Tenant:
    """The tenant's registry record and the reconciliation status mirrored from its CR."""
    return access.tenant


@one_tenant.patch("/{tenant_id}", response_model=schemas.TenantPublic)
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
    tenant = tenants.update(
        session=session,
        ctx=ctx,
        actor=access.actor,
        tenant=access.tenant,
        data=data,
        known_tiers=tiers.names(),
    )
    wake()
    return tenant


@one_tenant.post("/{tenant_id}/offboard", response_model=schemas.TenantPublic)
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
    tenant = tenants.offboard(session=session, ctx=ctx, tenant=access.tenant, grace=grace)
    wake()
    return tenant


@one_tenant.post("/{tenant_id}/restore", response_model=schemas.TenantPublic)
def restore_tenant(
    access: deps.TenantOffboarder,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.Tenant:
    """Reopen a closing tenant within its grace period."""
    tenant = tenants.restore(session=session, ctx=ctx, tenant=access.tenant)
    wake()
    return tenant


@one_tenant.get("/{tenant_id}/entitlements", response_model=schemas.EntitlementsPublic)
def read_entitlements(
    access: deps.BillingReader, session: deps.SessionDep, tiers: deps.TiersDep
) -> schemas.EntitlementsPublic:
    """What the tenant may use now (its plan's features, its overrides and the flags that
    reach it: tenantry_core.flags), and what its Tier lists."""
    found = features.facts(session=session, tenant_id=access.tenant.id, catalog=tiers)
    return features.entitlements(tenant=access.tenant, catalog=tiers, found=found)


@one_tenant.post(
    "/{tenant_id}/subscription",
    response_model=schemas.SubscriptionChange,
    status_code=202,
    responses={
        402: {"description": "The plan's tier needs a payment method on file (`reason`)"},
        403: {"description": "The plan's tier is not self-service, or needs a verified email"},
        404: {"description": "No such tenant visible to the caller"},
        422: {"description": "Unknown plan"},
    },
)
def change_subscription(
    data: schemas.SubscriptionChangeCreate,
    access: deps.BillingManager,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    tiers: deps.TiersDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> schemas.SubscriptionChange:
    """Ask Stripe to move the tenant to another plan; the tier changes once Stripe confirms
    it (customer.subscription.updated), which may mean a live migration. The plan's Tier says
    what a tenant admin needs first (`spec.selfService`); platform admins are not bound."""
    change = plans.change_subscription(
        session=session,
        ctx=ctx,
        settings=settings,
        actor=access.actor,
        tenant=access.tenant,
        plan_id=data.plan,
        catalog=tiers,
    )
    wake()
    return change


@one_tenant.get(
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
    today = dt.datetime.now(dt.UTC).date()
    return usage.read_usage(tenant=access.tenant, days=days, today=today)


router = APIRouter()
router.include_router(every_tenant)
router.include_router(one_tenant)
