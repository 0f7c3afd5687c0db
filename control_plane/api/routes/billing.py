"""Billing routes: the plan catalog and the Stripe webhook (verified by integrations.stripe_sync,
applied by services.billing)."""

from __future__ import annotations

import datetime as dt

from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Header, Request

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.integrations import stripe_sync
from control_plane.services import billing
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
