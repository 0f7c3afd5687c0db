"""Billing routes: the plan catalog and the Stripe webhook."""

from __future__ import annotations

import datetime as dt
import json

import stripe
from asgi_correlation_id import correlation_id
from fastapi import APIRouter, Header, Request
from sqlalchemy import select

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.services import billing
from tenantry_core import problems

router = APIRouter(tags=["billing"])


@router.get("/plans", response_model=list[schemas.PlanPublic])
def list_plans(session: deps.SessionDep) -> list[models.Plan]:
    return list(
        session.scalars(
            select(models.Plan)
            .where(models.Plan.active)
            .order_by(models.Plan.amount, models.Plan.id)
        )
    )


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
        stripe.Webhook.construct_event(
            payload, stripe_signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=300
        )
        event = json.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
        int(event["created"])
    except stripe.SignatureVerificationError as exc:
        raise problems.Problem(400, "Invalid signature", str(exc).split("\n")[0]) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise problems.Problem(400, "Malformed event", "the body is not a Stripe event") from exc
    with session.begin():
        outcome = billing.handle_event(
            session,
            event,
            grace=dt.timedelta(seconds=settings.BILLING_GRACE_SECONDS),
            request_id=correlation_id.get(),
            client_ip=request.client.host if request.client else None,
        )
    wake()
    return schemas.WebhookReceipt(event=f"{event_type} {event_id}", outcome=outcome)
