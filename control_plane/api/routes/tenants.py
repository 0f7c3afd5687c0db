"""`/tenants`: a tenant's registry record with the reconciliation status mirrored from its CR."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.core import problems

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
