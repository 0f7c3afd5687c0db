"""`/tenants`: a tenant's registry record with the reconciliation status mirrored from its CR."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.core import problems
from control_plane.services import usage

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.get(
    "/{tenant_id}",
    response_model=schemas.TenantPublic,
    responses={404: {"description": "No such tenant visible to the caller"}},
)
def read_tenant(
    tenant_id: uuid.UUID, session: deps.SessionDep, principal: deps.CurrentPrincipal
) -> schemas.TenantPublic:
    # The caller sees only its own tenant; another tenant's id is indistinguishable from none.
    tenant = session.get(models.Tenant, tenant_id) if tenant_id == principal.tenant_id else None
    if tenant is None:
        raise problems.Problem(404, "Not Found", "no such tenant")
    return schemas.TenantPublic.model_validate(tenant)


@router.get(
    "/{tenant_id}/entitlements",
    response_model=schemas.EntitlementsPublic,
    responses={404: {"description": "No such tenant visible to the caller"}},
)
def read_entitlements(
    tenant_id: uuid.UUID,
    session: deps.SessionDep,
    principal: deps.CurrentPrincipal,
    tiers: deps.TiersDep,
) -> schemas.EntitlementsPublic:
    """What the tenant's plan includes: the features of its Tier."""
    tenant = read_tenant(tenant_id, session, principal)
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
    tenant_id: uuid.UUID,
    data: schemas.SubscriptionChangeCreate,
    session: deps.SessionDep,
    principal: deps.CurrentPrincipal,
    dispatcher: deps.DispatcherDep,
) -> schemas.SubscriptionChange:
    """Ask Stripe to move the tenant to another plan; the tier changes once Stripe confirms
    it (customer.subscription.updated), which may mean a live migration."""
    tenant = read_tenant(tenant_id, session, principal)
    plan = session.get(models.Plan, data.plan)
    if plan is None or not plan.active:
        raise problems.Problem(
            422,
            "Unknown plan",
            f"plan {data.plan!r} is not offered",
            errors=[{"loc": ["body", "plan"], "msg": "unknown plan", "type": "value_error"}],
        )
    row = session.get(models.Tenant, tenant.id)
    assert row is not None
    session.add(
        models.OutboxEntry(
            tenant=row, action=models.OutboxAction.SYNC_BILLING, payload={"plan": plan.id}
        )
    )
    session.add(
        models.AuditEntry(
            tenant_id=row.id,
            actor=f"user:{principal.user_id}",
            action="billing.plan_change_requested",
            before={"tier": row.tier},
            after={"plan": plan.id},
        )
    )
    session.commit()
    if dispatcher:
        dispatcher.wake.set()
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
    tenant_id: uuid.UUID, session: deps.SessionDep, principal: deps.CurrentPrincipal, days: int = 31
) -> schemas.UsagePublic:
    """API calls the app plane metered for the tenant, per day, over the last `days` days."""
    tenant = read_tenant(tenant_id, session, principal)
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=max(0, min(days, 366)) - 1)
    try:
        counted = usage.daily_usage(tenant.slug, since)
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
