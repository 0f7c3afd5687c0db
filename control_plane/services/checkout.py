"""Paying through Stripe: Checkout sessions for a paid signup or an upgrade, and sessions of
Stripe's customer portal (payment methods and invoices; cancellation and plan changes only for
`billing:manage`).

A Checkout session is opened for one paid plan of the catalog; the tenant records it
(`checkout_plan`, `checkout_session_id`) and its payment is pending until Stripe announces the
session completed, signed, to the webhook: services.billing then takes the subscription it
brought and moves the tenant to the plan's tier. Opening another session closes the previous
one, so only the recorded session can be paid. A signup on a paid plan without a trial
(STRIPE_TRIAL_DAYS=0) runs on UNVERIFIED_TIER with its session opened at once (`for_signup`).
Used by api.routes.billing and services.tenants.
"""

from __future__ import annotations

import contextlib
import uuid

import structlog
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import config
from control_plane.integrations import stripe_sync
from control_plane.services import audit, auth, errors, tiers, verification

log = structlog.get_logger(__name__)


def _unavailable(exc: stripe_sync.BillingUnavailable) -> errors.Unavailable:
    log.warning("stripe call failed", reason=str(exc))
    return errors.Unavailable("Billing unavailable", "Stripe cannot be reached now", retry_after=5)


def paid_plan(*, session: Session, plan_id: str) -> models.Plan:
    """An offered plan that costs something (errors.InvalidInput otherwise)."""
    plan = session.get(models.Plan, plan_id)
    if plan is None or not plan.active:
        raise errors.InvalidInput(
            "Unknown plan", f"plan {plan_id!r} is not offered", field="plan", reason="unknown plan"
        )
    if plan.amount <= 0:
        raise errors.InvalidInput(
            "Nothing to pay",
            f"plan {plan_id!r} is free: change to it with POST /tenants/{{id}}/subscription",
            field="plan",
            reason="free plan",
        )
    return plan


def _open(
    session: Session, settings: config.Settings, tenant: models.Tenant, plan: models.Plan, key: str
) -> schemas.CheckoutPublic:
    """Open the session, record it (closing the one it replaces) and commit."""
    previous = tenant.checkout_session_id
    try:
        session_id, url = stripe_sync.start_checkout(settings, tenant=tenant, plan=plan, key=key)
    except stripe_sync.BillingUnavailable as exc:
        raise _unavailable(exc) from exc  # nothing is kept of this request
    if previous and previous != session_id:
        with contextlib.suppress(stripe_sync.BillingUnavailable):
            stripe_sync.expire_checkout(settings, previous)
    tenant.checkout_plan, tenant.checkout_session_id = plan.id, session_id
    session.commit()
    return schemas.CheckoutPublic(id=session_id, url=url, plan=plan.id, tier=plan.tier)


def start(
    *,
    session: Session,
    ctx: audit.Context,
    settings: config.Settings,
    actor: auth.Actor,
    tenant: models.Tenant,
    plan_id: str,
    catalog: tiers.TierCache,
) -> schemas.CheckoutPublic:
    """A Checkout session for a paid plan the tenant may choose (its Tier's `selfService`; the
    payment method is what Checkout collects). The tier changes once Stripe says it is paid."""
    if tenant.lifecycle != models.Lifecycle.ACTIVE:
        raise errors.Conflict("Tenant closed", "restore the tenant before paying for a plan")
    plan = paid_plan(session=session, plan_id=plan_id)
    target = catalog.get(plan.tier)
    if target is not None and not actor.platform_admin:
        tiers.admit(
            target,
            email_verified=verification.tenant_verified(session=session, tenant=tenant),
            has_payment_method=lambda: True,
        )
    audit.record(
        session=session,
        ctx=ctx,
        action="billing.checkout_started",
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        before={"tier": tenant.tier},
        after={"plan": plan.id},
    )
    tenant.checkout_plan = plan.id
    return _open(session, settings, tenant, plan, f"tenant-{tenant.id}-checkout-{uuid.uuid4()}")


def for_signup(
    *, session: Session, settings: config.Settings, tenant: models.Tenant
) -> schemas.CheckoutPublic | None:
    """Open the Checkout session a signup's pending plan waits for (None when Stripe cannot be
    reached: the owner opens one later with POST /tenants/{id}/billing/checkout)."""
    plan = session.get(models.Plan, tenant.checkout_plan or "")
    if plan is None:
        return None
    try:
        return _open(session, settings, tenant, plan, f"tenant-{tenant.id}-checkout-signup")
    except errors.Unavailable:
        return None


def signup_plan(*, session: Session, settings: config.Settings, tier: str) -> models.Plan | None:
    """The plan a signup on `tier` must pay before it runs on it: its monthly plan when that
    costs something, billing is on and there is no trial (else None)."""
    if not settings.STRIPE_API_KEY or settings.STRIPE_TRIAL_DAYS:
        return None
    plan = session.get(models.Plan, stripe_sync.monthly_plan(session, tier) or "")
    return plan if plan is not None and plan.amount > 0 else None


def portal(
    *,
    session: Session,
    ctx: audit.Context,
    settings: config.Settings,
    tenant: models.Tenant,
    full: bool,
) -> schemas.PortalPublic:
    """A session of Stripe's customer portal for the tenant's customer: the whole portal when
    `full` (the caller holds billing:manage), else payment methods and invoices only."""
    if not tenant.stripe_customer_id:
        raise errors.Conflict("No billing account", "the tenant has no Stripe customer yet")
    try:
        url = stripe_sync.portal_url(settings, customer=tenant.stripe_customer_id, limited=not full)
    except stripe_sync.BillingUnavailable as exc:
        raise _unavailable(exc) from exc
    audit.record(
        session=session,
        ctx=ctx,
        action="billing.portal_opened",
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        after={"portal": "full" if full else "payment methods and invoices"},
    )
    session.commit()
    return schemas.PortalPublic(url=url)
