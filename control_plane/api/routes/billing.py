"""Billing routes: the plan catalog, the Stripe webhook (verified by integrations.stripe_sync,
applied by services.billing), a tenant's Checkout and customer-portal sessions
(services.checkout), and its period's usage and upcoming invoice (services.invoices)."""

from __future__ import annotations

import datetime as dt

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Header, Request

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.core import permissions
from control_plane.integrations import stripe_sync
from control_plane.services import billing, checkout, invoices
from tenantry_core import problems

router = APIRouter(tags=["billing"])


@router.get("/plans", response_model=list[schemas.PlanPublic])
def list_plans(session: deps.SessionDep) -> list[models.Plan]:
    return billing.list_plans(session=session)


@router.post(
    "/billing/stripe/webhook",
    response_model=schemas.WebhookReceipt,
    responses={400: {"description": "Forged, malformed or stale event"}},
)
async def stripe_webhook(
    request: Request,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    wake: deps.WakeDep,
    stripe_signature: str | None = Header(default=None),
) -> schemas.WebhookReceipt:
    payload = (await request.body()).decode("utf-8", errors="replace")
    try:
        event = stripe_sync.verify_event(
            payload, signature=stripe_signature, secret=settings.STRIPE_WEBHOOK_SECRET
        )
    except stripe_sync.InvalidEvent as exc:
        raise problems.Problem(400, exc.title, exc.detail) from exc
    outcome = billing.handle_event(
        session=session,
        event=event,
        grace=dt.timedelta(seconds=settings.BILLING_GRACE_SECONDS),
        offboard_grace=dt.timedelta(seconds=settings.OFFBOARD_GRACE_SECONDS),
        request_id=correlation_id.get(),
        client_ip=request.client.host if request.client else None,
    )
    wake()
    return schemas.WebhookReceipt(event=f"{event['type']} {event['id']}", outcome=outcome)


@router.post(
    "/tenants/{tenant_id}/billing/checkout",
    response_model=schemas.CheckoutPublic,
    status_code=201,
    responses={
        403: {"description": "The plan's tier is not self-service, or needs a verified email"},
        404: {"description": "No such tenant visible to the caller"},
        409: {"description": "The tenant is closed"},
        422: {"description": "Unknown or free plan"},
        503: {"description": "Stripe cannot be reached (see Retry-After)"},
    },
)
def start_checkout(
    data: schemas.CheckoutCreate,
    access: deps.BillingManager,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    tiers: deps.TiersDep,
    ctx: deps.AuditDep,
) -> schemas.CheckoutPublic:
    """Open a Stripe Checkout session for a paid plan: the customer pays at `url`. The tenant
    moves to the plan's tier once Stripe says it is paid (checkout.session.completed); until
    then `payment_pending` is true. A new session closes the previous one."""
    return checkout.start(
        session=session,
        ctx=ctx,
        settings=settings,
        actor=access.actor,
        tenant=access.tenant,
        plan_id=data.plan,
        catalog=tiers,
    )


@router.post(
    "/tenants/{tenant_id}/billing/portal",
    response_model=schemas.PortalPublic,
    status_code=201,
    responses={
        404: {"description": "No such tenant visible to the caller"},
        409: {"description": "The tenant has no Stripe customer yet"},
        503: {"description": "Stripe cannot be reached (see Retry-After)"},
    },
)
def open_portal(
    access: deps.BillingPortal,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    ctx: deps.AuditDep,
) -> schemas.PortalPublic:
    """A session of Stripe's customer portal: payment methods and invoices; with
    `billing:manage` (owners) also cancelling and changing plans."""
    return checkout.portal(
        session=session,
        ctx=ctx,
        settings=settings,
        tenant=access.tenant,
        full=access.actor.can(permissions.Permission.BILLING_MANAGE),
    )


@router.get(
    "/tenants/{tenant_id}/billing/usage",
    response_model=schemas.BillingUsagePublic,
    responses={
        404: {"description": "No such tenant visible to the caller"},
        503: {"description": "Stripe or the usage database cannot be reached"},
    },
)
def billing_usage(
    access: deps.BillingReader, session: deps.SessionDep, settings: deps.SettingsDep
) -> schemas.BillingUsagePublic:
    """The current billing period's metered usage per Stripe meter: what was sent as meter
    events (finished days) and what is not yet (the days since, today included)."""
    now = dt.datetime.now(dt.UTC)
    return invoices.usage(session=session, settings=settings, tenant=access.tenant, now=now)


@router.get(
    "/tenants/{tenant_id}/billing/upcoming",
    response_model=schemas.UpcomingInvoicePublic,
    responses={
        404: {"description": "No such tenant visible to the caller"},
        409: {"description": "The tenant has no subscription, or Stripe has no upcoming invoice"},
        503: {"description": "Stripe cannot be reached (see Retry-After)"},
    },
)
def upcoming_invoice(
    access: deps.BillingReader, settings: deps.SettingsDep
) -> schemas.UpcomingInvoicePublic:
    """A preview of the tenant's next invoice, as Stripe computes it: its lines, the amount
    due and the period it bills."""
    return invoices.upcoming(settings=settings, tenant=access.tenant)
