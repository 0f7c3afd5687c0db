"""Billing: the plan catalog, and verified Stripe events changing tenants' billing state, tier
and suspension.

The webhook route hands each verified event to `handle_event`. In one transaction it records
the event id (a redelivery is a no-op), finds and locks the tenant by the Stripe customer we
created for it (never by metadata or a client_reference_id, which whoever pays may set), acts on
an event only when it is about the tenant's current subscription (billing_rules; a completed
Checkout session of its own brings it a new one, `_take_checkout`), asks
`billing_rules.decide` what the event means, applies it, writes the audit log, and records the
Kubernetes intent in the outbox: a new tier (the operator migrates the tenant if the isolation
model changes) or suspension. A cancellation closes the tenant like the API's offboarding:
suspended now, restorable until `offboard_after`, then offboarded by workers.sweeper
(services.tenants.offboard_expired). workers.sweeper runs `suspend_overdue` for tenants whose
billing grace period ran out. What the billing contact is told (trial ending, each failed payment,
suspended, resumed, offboarding scheduled) is queued in the same transaction (services.notices),
as are the tenant's webhook events (services.webhooks: suspended, resumed, tier changed, payment
failed).
Used by api.routes.billing and workers.sweeper.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.services import audit, billing_rules, notices, verification, webhooks

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


def _tenant_for(session: Session, obj: dict[str, Any]) -> models.Tenant | None:
    """The tenant an event is about: only the one whose Stripe customer it names."""
    customer = obj.get("customer")
    if not isinstance(customer, str) or not customer:
        return None
    return session.scalar(
        select(models.Tenant).where(models.Tenant.stripe_customer_id == customer).with_for_update()
    )


def _snapshot(tenant: models.Tenant) -> dict[str, Any]:
    return {
        "billing_state": tenant.billing_state,
        "tier": tenant.tier,
        "suspended": tenant.suspended,
        "lifecycle": tenant.lifecycle,
        "offboard_after": tenant.offboard_after.isoformat() if tenant.offboard_after else None,
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
    offboard_grace: dt.timedelta | None = None,
) -> None:
    """Move a tenant to a billing state; audit it and record the Kubernetes intent. Canceled
    closes an open tenant: suspended, and offboarded once `offboard_grace` has passed."""
    before = _snapshot(tenant)
    tenant.billing_state = state.value
    if tier is not None:
        tenant.tier = tier
    if state is State.PAST_DUE and grace is not None:
        tenant.grace_until = dt.datetime.now(dt.UTC) + grace
    elif state is not State.PAST_DUE:
        tenant.grace_until = None
    if state is State.CANCELED and tenant.lifecycle == models.Lifecycle.ACTIVE:
        tenant.lifecycle = models.Lifecycle.CLOSING
        tenant.offboard_after = dt.datetime.now(dt.UTC) + (offboard_grace or dt.timedelta())
    tenant.suspended = state is State.SUSPENDED or tenant.lifecycle != models.Lifecycle.ACTIVE
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
    webhooks.tenant_changed(session, tenant, before, after)
    if tenant.lifecycle == models.Lifecycle.OFFBOARDING:
        return  # its Tenant is deleted: nothing to apply
    if before["tier"] != after["tier"] or before["suspended"] != after["suspended"]:
        session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.APPLY_TENANT))


def handle_event(
    *,
    session: Session,
    event: dict[str, Any],
    grace: dt.timedelta,
    offboard_grace: dt.timedelta,
    request_id: str | None = None,
    client_ip: str | None = None,
) -> str:
    """Apply one verified event exactly once, in a transaction of its own; returns what
    happened to it. `grace`: how long a past-due tenant keeps working; `offboard_grace`: how
    long a canceled one stays restorable."""
    with session.begin():
        return _apply_event(session, event, (grace, offboard_grace), request_id, client_ip)


def _apply_event(
    session: Session,
    event: dict[str, Any],
    graces: tuple[dt.timedelta, dt.timedelta],
    request_id: str | None,
    client_ip: str | None,
) -> str:
    grace, offboard_grace = graces
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
    tenant = _tenant_for(session, obj)
    if tenant is None:
        record.outcome = "ignored: no tenant has this customer"
        return record.outcome
    record.tenant_id = tenant.id
    if billing_rules.foreign_subscription(str(event["type"]), obj, tenant.stripe_subscription_id):
        record.outcome = "ignored: not the tenant's current subscription"
        return record.outcome
    if str(event["type"]).startswith("customer.subscription."):
        tenant.stripe_subscription_id = str(obj["id"])
    released = None
    if event["type"] == "checkout.session.completed":
        released = _take_checkout(session, tenant, obj)
    current = billing_rules.Current(
        State(tenant.billing_state),
        tenant.tier,
        tenant.billing_version,
        tenant.billing_tier_version,
    )
    decision = billing_rules.decide(current, str(event["type"]), created, obj, _plan_tiers(session))
    record.outcome = decision.outcome
    if decision.applied or released:
        tenant.billing_version = decision.version
        tenant.billing_tier_version = max(decision.tier_version, created if released else 0)
        _transition(
            session,
            tenant,
            decision.state,
            tier=released or decision.tier,
            actor=f"stripe:{event['id']}",
            action=f"billing.{event['type']}",
            request_id=request_id,
            client_ip=client_ip,
            grace=grace if decision.start_grace else None,
            offboard_grace=offboard_grace,
        )
    if decision.applied and event["type"] == "invoice.payment_failed":
        webhooks.emit(
            session,
            tenant,
            webhooks.Event.INVOICE_PAYMENT_FAILED,
            {
                "invoice": obj.get("id"),
                "attempt": int(obj.get("attempt_count") or 1),
                "amount_due": obj.get("amount_due"),
                "currency": obj.get("currency"),
                "grace_until": tenant.grace_until.isoformat() if tenant.grace_until else None,
            },
        )
    if decision.applied:
        for told in billing_rules.notices(str(event["type"]), current.state, decision.state):
            _tell(session, tenant, notices.Notice(told), obj)
    return record.outcome


def _tell(
    session: Session, tenant: models.Tenant, notice: notices.Notice, obj: dict[str, Any]
) -> None:
    """Queue a notice once the transition is made, with the dates it set."""
    if notice is notices.Notice.TRIAL_ENDING:
        trial_end = obj.get("trial_end")
        notices.queue(
            session,
            tenant,
            notice,
            trial_end=notices.day(trial_end if isinstance(trial_end, int) else None),
        )
    elif notice is notices.Notice.PAYMENT_FAILED:
        notices.queue(
            session,
            tenant,
            notice,
            attempt=int(obj.get("attempt_count") or 1),
            grace_until=notices.day(tenant.grace_until),
        )
    elif notice is notices.Notice.OFFBOARDING_SCHEDULED:
        notices.queue(session, tenant, notice, offboard_after=notices.day(tenant.offboard_after))
    else:
        notices.queue(session, tenant, notice)


def _take_checkout(session: Session, tenant: models.Tenant, obj: dict[str, Any]) -> str | None:
    """A completed Checkout session of the tenant's own: the subscription it brought becomes
    the tenant's, the one it replaces is canceled (through the outbox; its events are then
    another subscription's), and the tier it paid for is returned to move to, unless the owner
    has still to verify their email (then it stays held, and verifying releases it)."""
    subscription = billing_rules.takeover(obj, tenant.checkout_session_id)
    if subscription is None:
        return None
    replaced, plan = tenant.stripe_subscription_id, tenant.checkout_plan
    tenant.stripe_subscription_id = subscription
    tenant.checkout_session_id = tenant.checkout_plan = None
    if replaced and replaced != subscription:
        session.add(
            models.OutboxEntry(
                tenant=tenant,
                action=models.OutboxAction.SYNC_BILLING,
                payload={"cancel": replaced},
            )
        )
    tier = _plan_tiers(session).get(plan or "")
    if tier is None:
        return None
    if tenant.requested_tier is not None and not verification.tenant_verified(
        session=session, tenant=tenant
    ):
        tenant.requested_tier = tier
        return None
    tenant.requested_tier = None
    return tier


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
        notices.queue(session, tenant, notices.Notice.SUSPENDED)
    return len(overdue)
