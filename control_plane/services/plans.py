"""A tenant's plan: changing it through Stripe (what it includes: services.features).

A tenant admin may move only to a tier whose Tier `selfService` admits it (services.tiers.admit:
a verified owner email, a payment method on the Stripe customer); platform admins may choose any.
Used by api.routes.tenants.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import config
from control_plane.integrations import stripe_sync
from control_plane.services import audit, auth, errors, tiers, verification


def _has_payment_method(settings: config.Settings, tenant: models.Tenant) -> bool:
    try:
        return stripe_sync.has_payment_method(settings, tenant.stripe_customer_id)
    except stripe_sync.BillingUnavailable as exc:
        raise errors.Unavailable(
            "Billing unavailable", "the payment methods cannot be checked now", retry_after=5
        ) from exc


def change_subscription(
    *,
    session: Session,
    ctx: audit.Context,
    settings: config.Settings,
    actor: auth.Actor,
    tenant: models.Tenant,
    plan_id: str,
    catalog: tiers.TierCache,
) -> schemas.SubscriptionChange:
    """Ask Stripe (through the outbox) to move the tenant to another plan; the tier changes once
    Stripe confirms it (services.billing). A tenant admin may choose only a tier its Tier's
    `selfService` admits (platform admins may choose any)."""
    plan = session.get(models.Plan, plan_id)
    if plan is None or not plan.active:
        raise errors.InvalidInput(
            "Unknown plan", f"plan {plan_id!r} is not offered", field="plan", reason="unknown plan"
        )
    target = catalog.get(plan.tier)
    if target is not None and not actor.platform_admin:
        tiers.admit(
            target,
            email_verified=verification.tenant_verified(session=session, tenant=tenant),
            has_payment_method=lambda: _has_payment_method(settings, tenant),
        )
    tenant.requested_tier = None  # a plan chosen now replaces the one held since signup
    session.add(
        models.OutboxEntry(
            tenant=tenant, action=models.OutboxAction.SYNC_BILLING, payload={"plan": plan.id}
        )
    )
    audit.record(
        session=session,
        ctx=ctx,
        action="billing.plan_change_requested",
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        before={"tier": tenant.tier},
        after={"plan": plan.id},
    )
    session.commit()
    return schemas.SubscriptionChange(plan=plan.id, tier=plan.tier, status="requested")
