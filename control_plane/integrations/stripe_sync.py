"""Stripe: verifying webhook events, and the outgoing calls (a tenant's customer and
subscription, plan changes, a per-seat plan's quantity following the users, canceling a
replaced subscription, Checkout and customer-portal sessions, usage meter events, a
subscription's current period and its upcoming invoice).

`sync` is run by the outbox dispatcher for SYNC_BILLING entries, so a failed call is retried and
never lost. Each call is idempotent twice over: the Stripe ids are kept on the tenant (a retried
job skips what exists), and every request carries an idempotency key derived from stable ids (the
tenant, the plan, the outbox entry), so Stripe itself discards a repeated request. The webhook
route verifies events with `verify_event`; the usage reporter sends `report_usage`;
services.plans asks `has_payment_method` before a tier that needs one; services.checkout opens
Checkout and portal sessions (`start_checkout`, `expire_checkout`, `portal_url`);
services.invoices reads `current_period` and `upcoming_invoice`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

import stripe
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.core import config

METER_EVENT = "api_calls"
ROWS_EVENT = "stored_rows"
WEBHOOK_TOLERANCE_SECONDS = 300


class BillingUnavailable(Exception):
    """Stripe could not be reached or refused the call; the entry is retried."""


class InvalidEvent(Exception):
    """A webhook body that is forged, too old or not a Stripe event."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title, self.detail = title, detail


def verify_event(payload: str, *, signature: str | None, secret: str) -> dict[str, Any]:
    """The event a webhook delivered, once its signature and age check out."""
    try:
        stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
        if not isinstance(event, dict) or not {"id", "type"} <= event.keys():
            raise ValueError("not an event")
        int(event["created"])
    except stripe.SignatureVerificationError as exc:
        raise InvalidEvent("Invalid signature", str(exc).split("\n")[0]) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidEvent("Malformed event", "the body is not a Stripe event") from exc
    return event


@functools.cache
def client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": api_base} if api_base else {})


def monthly_plan(session: Session, tier: str) -> str | None:
    return session.scalar(
        select(models.Plan.id).where(
            models.Plan.tier == tier, models.Plan.interval == "month", models.Plan.active
        )
    )


def ensure_plan(stripe_client: stripe.StripeClient, plan: models.Plan) -> None:
    """The catalog's plan exists in Stripe (created there if missing, with the same id)."""
    try:
        stripe_client.v1.plans.retrieve(plan.id)
    except stripe.InvalidRequestError:
        stripe_client.v1.plans.create(
            params={
                "id": plan.id,
                "product": {"name": plan.display_name},
                "amount": plan.amount,
                "currency": plan.currency,
                "interval": plan.interval,
            },
            options={"idempotency_key": f"plan-{plan.id}"},
        )


def sync(session: Session, entry: models.OutboxEntry, settings: config.Settings) -> str:
    """Bring Stripe to what the entry asks; returns what was done."""
    if not settings.STRIPE_API_KEY:
        return "skipped: billing is off (no STRIPE_API_KEY)"
    stripe_client = client(settings.STRIPE_API_KEY, settings.STRIPE_API_BASE)
    tenant = entry.tenant
    payload = entry.payload or {}
    wanted = payload.get("plan") or monthly_plan(session, tenant.tier)
    metadata = _metadata(tenant)
    done = []
    try:
        if payload.get("cancel"):  # replaced by the subscription a Checkout session brought
            return _cancel(stripe_client, str(payload["cancel"]))
        if not tenant.stripe_customer_id:
            done.append(f"customer {_ensure_customer(stripe_client, tenant)}")
        catalog = session.get(models.Plan, wanted) if wanted else None
        if catalog is not None:
            ensure_plan(stripe_client, catalog)
        if wanted and not tenant.stripe_subscription_id:
            params: dict[str, Any] = {
                "customer": tenant.stripe_customer_id,
                "items": [{"plan": wanted, **_quantity(session, tenant, catalog)}],
                "metadata": metadata,
            }
            paid = catalog is not None and catalog.amount > 0
            if paid and settings.STRIPE_TRIAL_DAYS:
                params["trial_period_days"] = settings.STRIPE_TRIAL_DAYS
            elif paid:  # without a trial, a paid plan starts when its Checkout is paid
                return ", ".join([*done, f"{wanted} waits for a Checkout session"])
            # A subscription that replaces a canceled one (a restored tenant) has a key of its own.
            replaces = (entry.payload or {}).get("replaces")
            key = f"tenant-{tenant.id}-subscription" + (f"-after-{replaces}" if replaces else "")
            subscription = stripe_client.v1.subscriptions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": key},
            )
            tenant.stripe_subscription_id = subscription.id
            done.append(f"subscription {subscription.id} on {wanted}")
        elif wanted and entry.payload and entry.payload.get("plan"):
            current = stripe_client.v1.subscriptions.retrieve(tenant.stripe_subscription_id or "")
            item = current["items"]["data"][0]
            if item["plan"]["id"] != wanted:
                stripe_client.v1.subscriptions.update(
                    current.id,
                    params={  # type: ignore[arg-type]
                        "items": [
                            {
                                "id": item["id"],
                                "plan": wanted,
                                **_quantity(session, tenant, catalog),
                            }
                        ]
                    },
                    options={"idempotency_key": f"tenant-{tenant.id}-plan-{wanted}-{entry.id}"},
                )
                done.append(f"subscription {current.id} moved to {wanted}")
        elif payload.get("seats") and tenant.stripe_subscription_id:
            done.append(_follow_seats(stripe_client, session, tenant, entry))
    except stripe.StripeError as exc:
        raise BillingUnavailable(str(exc)) from exc
    return ", ".join(done) or "nothing to do"


def seats(session: Session, tenant: models.Tenant) -> int:
    """The seats a per-seat plan bills: the tenant's users (at least one)."""
    users = session.scalar(
        select(func.count()).select_from(models.User).where(models.User.tenant_id == tenant.id)
    )
    return max(1, int(users or 0))


def _quantity(session: Session, tenant: models.Tenant, plan: models.Plan | None) -> dict[str, int]:
    return {"quantity": seats(session, tenant)} if plan is not None and plan.per_seat else {}


def _follow_seats(
    stripe_client: stripe.StripeClient,
    session: Session,
    tenant: models.Tenant,
    entry: models.OutboxEntry,
) -> str:
    """The subscription's quantity becomes the tenant's users now, prorated (on a per-seat
    plan). Counted when the entry runs, so entries in any order end at the current count, and
    one that finds it already right changes nothing."""
    current = stripe_client.v1.subscriptions.retrieve(tenant.stripe_subscription_id or "")
    item = current["items"]["data"][0]
    plan = session.get(models.Plan, str(item["plan"]["id"]))
    if plan is None or not plan.per_seat:
        return f"{item['plan']['id']} is not priced per seat"
    wanted = seats(session, tenant)
    if int(item["quantity"] or 1) == wanted:
        return f"{wanted} seats already"
    stripe_client.v1.subscriptions.update(
        current.id,
        params={
            "items": [{"id": item["id"], "quantity": wanted}],
            "proration_behavior": "create_prorations",
        },
        options={"idempotency_key": f"tenant-{tenant.id}-seats-{wanted}-{entry.id}"},
    )
    return f"subscription {current.id} at {wanted} seats"


def _metadata(tenant: models.Tenant) -> dict[str, str]:
    return {"tenant_id": str(tenant.id), "tenant": tenant.tenant_key}


def _ensure_customer(stripe_client: stripe.StripeClient, tenant: models.Tenant) -> str:
    """The tenant's Stripe customer, created once (every caller uses the same idempotency key,
    so a signup and the outbox racing to create it get the same one)."""
    if not tenant.stripe_customer_id:
        customer = stripe_client.v1.customers.create(
            params={
                "email": tenant.owner_email or "",
                "name": tenant.company,
                "metadata": _metadata(tenant),
            },
            options={"idempotency_key": f"tenant-{tenant.id}-customer"},
        )
        tenant.stripe_customer_id = customer.id
    return tenant.stripe_customer_id


def _cancel(stripe_client: stripe.StripeClient, subscription: str) -> str:
    try:
        stripe_client.v1.subscriptions.cancel(
            subscription, options={"idempotency_key": f"cancel-{subscription}"}
        )
    except stripe.InvalidRequestError as exc:  # gone already: nothing left to cancel
        if exc.http_status != 404:
            raise
        return f"subscription {subscription} was gone"
    return f"subscription {subscription} canceled"


def _configured(settings: config.Settings) -> stripe.StripeClient:
    if not settings.STRIPE_API_KEY:
        raise BillingUnavailable("billing is off (no STRIPE_API_KEY)")
    return client(settings.STRIPE_API_KEY, settings.STRIPE_API_BASE)


def start_checkout(
    settings: config.Settings, *, tenant: models.Tenant, plan: models.Plan, key: str
) -> tuple[str, str]:
    """A Checkout session (subscription mode) for `plan` on the tenant's customer (created if
    missing), with the trial of STRIPE_TRIAL_DAYS; returns its id and URL. `key` makes a
    retried request the same session."""
    stripe_client = _configured(settings)
    try:
        customer = _ensure_customer(stripe_client, tenant)
        ensure_plan(stripe_client, plan)
        subscription_data: dict[str, Any] = {"metadata": _metadata(tenant)}
        if settings.STRIPE_TRIAL_DAYS:
            subscription_data["trial_period_days"] = settings.STRIPE_TRIAL_DAYS
        found = stripe_client.v1.checkout.sessions.create(
            params={  # type: ignore[arg-type]
                "mode": "subscription",
                "customer": customer,
                "line_items": [{"price": plan.id, "quantity": 1}],
                "subscription_data": subscription_data,
                "success_url": settings.CHECKOUT_SUCCESS_URL,
                "cancel_url": settings.CHECKOUT_CANCEL_URL,
                "client_reference_id": str(tenant.id),
                "metadata": _metadata(tenant),
            },
            options={"idempotency_key": key},
        )
    except stripe.StripeError as exc:
        raise BillingUnavailable(str(exc)) from exc
    if not found.url:
        raise BillingUnavailable(f"checkout session {found.id} has no URL")
    return found.id, found.url


def expire_checkout(settings: config.Settings, session_id: str) -> None:
    """Close an open Checkout session nobody should pay any more (already closed: nothing)."""
    try:
        _configured(settings).v1.checkout.sessions.expire(session_id)
    except stripe.InvalidRequestError:
        return
    except stripe.StripeError as exc:
        raise BillingUnavailable(str(exc)) from exc


LIMITED_PORTAL = "payment-methods-and-invoices"  # the metadata `tenantry` of that configuration
LIMITED_METADATA = {"tenantry": LIMITED_PORTAL}
_LIMITED_PORTALS: dict[str, str] = {}  # by API key: the configuration's id, found or made once


def _limited_portal(stripe_client: stripe.StripeClient, api_key: str) -> str:
    """The portal configuration that offers payment methods and invoices but no cancellation
    nor plan change: found by its metadata, else created (once per account)."""
    if api_key not in _LIMITED_PORTALS:
        found = stripe_client.v1.billing_portal.configurations.list(params={"limit": 100})
        mine = [c.id for c in found.data if c.to_dict().get("metadata") == LIMITED_METADATA]
        if not mine:
            made = stripe_client.v1.billing_portal.configurations.create(
                params={
                    "features": {
                        "payment_method_update": {"enabled": True},
                        "invoice_history": {"enabled": True},
                        "subscription_cancel": {"enabled": False},
                        "subscription_update": {"enabled": False},
                    },
                    "metadata": LIMITED_METADATA,
                },
                options={"idempotency_key": f"portal-configuration-{LIMITED_PORTAL}"},
            )
            mine = [made.id]
        _LIMITED_PORTALS[api_key] = mine[0]
    return _LIMITED_PORTALS[api_key]


def portal_url(settings: config.Settings, *, customer: str, limited: bool = False) -> str:
    """A customer-portal session of `customer`: the account's default portal (payment
    methods, invoices, cancellation), or, `limited`, one without cancellation nor plan change."""
    stripe_client = _configured(settings)
    params: dict[str, Any] = {"customer": customer, "return_url": settings.BILLING_RETURN_URL}
    try:
        if limited:
            params["configuration"] = _limited_portal(stripe_client, settings.STRIPE_API_KEY or "")
        found = stripe_client.v1.billing_portal.sessions.create(params=params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        raise BillingUnavailable(str(exc)) from exc
    return str(found.url)


def current_period(settings: config.Settings, subscription: str) -> tuple[int, int]:
    """The (start, end) unix times of the subscription's current billing period: on its first
    item, where Stripe keeps it since API version 2025-03-31, else on the subscription (older
    versions, and localstripe)."""
    try:
        found = _configured(settings).v1.subscriptions.retrieve(subscription).to_dict()
    except stripe.StripeError as exc:
        raise BillingUnavailable(str(exc)) from exc
    items = (found.get("items") or {}).get("data") or [{}]
    start = items[0].get("current_period_start") or found.get("current_period_start")
    end = items[0].get("current_period_end") or found.get("current_period_end")
    if start is None or end is None:
        raise BillingUnavailable(f"subscription {subscription} has no current period")
    return int(start), int(end)


def upcoming_invoice(
    settings: config.Settings, *, customer: str, subscription: str
) -> dict[str, Any] | None:
    """A preview of the subscription's next invoice (`POST /v1/invoices/create_preview`), as
    Stripe answers it; None when Stripe has none to show (a canceled subscription)."""
    try:
        found = _configured(settings).v1.invoices.create_preview(
            params={"customer": customer, "subscription": subscription}
        )
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise BillingUnavailable(str(exc)) from exc
    except stripe.StripeError as exc:
        raise BillingUnavailable(str(exc)) from exc
    return dict(found.to_dict())


def has_payment_method(settings: config.Settings, customer_id: str | None) -> bool:
    """Whether the Stripe customer has a card on file (False without billing or a customer)."""
    if not settings.STRIPE_API_KEY or not customer_id:
        return False
    stripe_client = client(settings.STRIPE_API_KEY, settings.STRIPE_API_BASE)
    try:
        found = stripe_client.v1.payment_methods.list(
            params={"customer": customer_id, "type": "card", "limit": 1}
        )
    except stripe.StripeError as exc:
        raise BillingUnavailable(str(exc)) from exc
    return bool(found.data)


def report_usage(
    stripe_client: Any,
    *,
    customer: str,
    identifier: str,
    day: dt.date,
    api_calls: int,
    stored_rows: int,
) -> None:
    """A finished day's usage as meter events, stamped at its end; Stripe keeps one event per
    identifier, so a resend is a no-op."""
    end_of_day = dt.datetime.combine(day, dt.time(23, 59, 59), dt.UTC)
    for event, value, suffix in ((METER_EVENT, api_calls, ""), (ROWS_EVENT, stored_rows, "-rows")):
        stripe_client.v1.billing.meter_events.create(
            params={
                "event_name": event,
                "identifier": identifier + suffix,
                "timestamp": int(end_of_day.timestamp()),
                "payload": {"stripe_customer_id": customer, "value": str(value)},
            }
        )
