"""Billing: the plan catalog, and verified Stripe events changing tenants' billing state, tier
and suspension.

The webhook route hands each verified event to `handle_event`. In one transaction it records
the event id (a redelivery is a no-op), locks the tenant, asks `billing_rules.decide` what the
event means, applies it, writes the audit log, and records the Kubernetes intent in the outbox:
a new tier (the operator migrates the tenant if the isolation model changes), suspension, or
offboarding on cancellation. workers.sweeper runs `suspend_overdue` for tenants whose grace
period ran out. Used by api.routes.billing and workers.sweeper.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.services import audit, billing_rules

State = billing_rules.State


def list_plans(*, session: Session) -> list[models.Plan]:
    """The plans on offer, cheapest first."""
    return list(
        session.scalars(
            select(models.Plan)
            .where(models.Plan.active)
            .order_by(models.Plan.amount, models.Plan.id)
        )
    )


def _plan_tiers(session: Session) -> dict[str, str]:
    return dict(session.execute(select(models.Plan.id, models.Plan.tier)).tuples().all())


def _tenant_for(session: Session, event_type: str, obj: dict[str, Any]) -> models.Tenant | None:
    """The tenant an event is about: by Stripe customer, or by the ids we put in metadata."""
    query = select(models.Tenant).with_for_update()
    customer = obj.get("customer") if event_type != "customer.created" else obj.get("id")
    if customer:
        found = session.scalar(query.where(models.Tenant.stripe_customer_id == str(customer)))
        if found:
            return found
    for ref in ((obj.get("metadata") or {}).get("tenant_id"), obj.get("client_reference_id")):
        try:
            tenant_id = uuid.UUID(str(ref))
        except ValueError:
            continue
        return session.scalar(query.where(models.Tenant.id == tenant_id))
    return None


def _snapshot(tenant: models.Tenant) -> dict[str, Any]:
    return {
        "billing_state": tenant.billing_state,
        "tier": tenant.tier,
        "suspended": tenant.suspended,
        "lifecycle": tenant.lifecycle,
    }


def _transition(
    session: Session,
    tenant: models.Tenant,
    state: State,
    *,
    tier: str | None = None,
    actor: str,
    action: str,
    request_id: str | None = None,
    client_ip: str | None = None,
    grace: dt.timedelta | None = None,
) -> None:
    """Move a tenant to a billing state; audit it and record the Kubernetes intent."""
    before = _snapshot(tenant)
    tenant.billing_state = state.value
    if tier is not None:
        tenant.tier = tier
    if state is State.PAST_DUE and grace is not None:
        tenant.grace_until = dt.datetime.now(dt.UTC) + grace
    elif state is not State.PAST_DUE:
        tenant.grace_until = None
    tenant.suspended = state is State.SUSPENDED
    if state is State.CANCELED:
        tenant.lifecycle = models.Lifecycle.OFFBOARDING
    after = _snapshot(tenant)
    if after == before:
        return
    audit.record(
        session=session,
        ctx=audit.Context(actor, request_id, client_ip),
        action=action,
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        before=before,
        after=after,
    )
    if tenant.lifecycle == models.Lifecycle.OFFBOARDING:
        if before["lifecycle"] != models.Lifecycle.OFFBOARDING:
            session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.DELETE_TENANT))
    elif before["tier"] != after["tier"] or before["suspended"] != after["suspended"]:
        session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.APPLY_TENANT))


def handle_event(
    *,
    session: Session,
    event: dict[str, Any],
    grace: dt.timedelta,
    request_id: str | None = None,
    client_ip: str | None = None,
) -> str:
    """Apply one verified event exactly once, in a transaction of its own; returns what
    happened to it."""
    with session.begin():
        return _apply_event(session, event, grace, request_id, client_ip)


def _apply_event(
    session: Session,
    event: dict[str, Any],
    grace: dt.timedelta,
    request_id: str | None,
    client_ip: str | None,
) -> str:
    created = int(event["created"])
    obj = dict((event.get("data") or {}).get("object") or {})
    claimed = session.execute(
        insert(models.StripeEvent)
        .values(id=str(event["id"]), type=str(event["type"]), created=created, outcome="processing")
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(models.StripeEvent.id)
    ).scalar_one_or_none()
    if claimed is None:
        return "duplicate"
    record = session.get(models.StripeEvent, str(event["id"]))
    assert record is not None
    tenant = _tenant_for(session, str(event["type"]), obj)
    if tenant is None:
        record.outcome = "ignored: no tenant for this event"
        return record.outcome
    record.tenant_id = tenant.id
    if (
        event["type"] in ("checkout.session.completed", "customer.subscription.created")
        and obj.get("customer")
        and not tenant.stripe_customer_id
    ):
        tenant.stripe_customer_id = str(obj["customer"])
    if str(event["type"]).startswith("customer.subscription.") and obj.get("id"):
        tenant.stripe_subscription_id = str(obj["id"])
    current = billing_rules.Current(
        State(tenant.billing_state),
        tenant.tier,
        tenant.billing_version,
        tenant.billing_tier_version,
    )
    decision = billing_rules.decide(current, str(event["type"]), created, obj, _plan_tiers(session))
    record.outcome = decision.outcome
    if decision.applied:
        tenant.billing_version = decision.version
        tenant.billing_tier_version = decision.tier_version
        _transition(
            session,
            tenant,
            decision.state,
            tier=decision.tier,
            actor=f"stripe:{event['id']}",
            action=f"billing.{event['type']}",
            request_id=request_id,
            client_ip=client_ip,
            grace=grace if decision.start_grace else None,
        )
    return record.outcome


def suspend_overdue(*, session: Session, now: dt.datetime) -> int:
    """Suspend every past-due tenant whose grace period has ended."""
    overdue = session.scalars(
        select(models.Tenant)
        .where(
            models.Tenant.billing_state == State.PAST_DUE.value, models.Tenant.grace_until <= now
        )
        .with_for_update(skip_locked=True)
    ).all()
    for tenant in overdue:
        _transition(
            session,
            tenant,
            State.SUSPENDED,
            actor="tenantry:billing",
            action="billing.grace_period_ended",
        )
    return len(overdue)
