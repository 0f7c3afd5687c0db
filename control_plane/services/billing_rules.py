"""Pure billing decisions: what a Stripe event means for a tenant, given where it stands.

Events arrive late, twice and out of order, so a decision depends only on the event's own
snapshot and timestamp (`created`) and on the tenant's state, never on arrival order: an event
older than the newest one applied is stale and changes nothing. A subscription event counts
only for the tenant's current subscription. A payment (an invoice or a payment intent) makes the
tenant active, a failed one past due; a completed Checkout session active, or trialing when
nothing was due. `takeover` says whether a completed Checkout session brings the tenant's new
subscription. Used by `services.billing`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class State(enum.StrEnum):
    NONE = "none"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"  # past_due beyond the grace period (decided here, not by Stripe)
    CANCELED = "canceled"


SUBSCRIPTION_STATUS = {
    "trialing": State.TRIALING,
    "active": State.ACTIVE,
    "past_due": State.PAST_DUE,
    "unpaid": State.PAST_DUE,
    "canceled": State.CANCELED,
    "incomplete_expired": State.CANCELED,
}
PAID = {"invoice.paid", "invoice.payment_succeeded", "payment_intent.succeeded"}
FAILED = {"invoice.payment_failed", "payment_intent.payment_failed"}
# Checkout's payment_status once the customer is through: paid, or nothing due yet (a trial).
CHECKOUT_STATUS = {"paid": State.ACTIVE, "no_payment_required": State.TRIALING}
HANDLED = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "checkout.session.completed",
    *PAID,
    *FAILED,
}


@dataclass(frozen=True)
class Current:
    state: State
    tier: str
    version: int  # `created` of the newest event applied to the state
    tier_version: int = 0  # `created` of the newest subscription snapshot applied to the tier


@dataclass(frozen=True)
class Decision:
    outcome: str  # applied | stale | ignored: why
    state: State
    tier: str
    version: int
    tier_version: int = 0
    start_grace: bool = False

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


def plan_of(subscription: Mapping[str, Any]) -> str | None:
    """The plan (or price) id a subscription snapshot is on."""
    items = ((subscription.get("items") or {}).get("data")) or []
    for item in items:
        ref = item.get("plan") or item.get("price") or {}
        if ref.get("id"):
            return str(ref["id"])
    plan = subscription.get("plan") or {}
    return str(plan["id"]) if plan.get("id") else None


def foreign_subscription(event_type: str, obj: Mapping[str, Any], current: str | None) -> bool:
    """Whether an event is about another subscription than the tenant's `current` one (and must
    change nothing): a subscription event by its id, an invoice by the subscription it bills. A
    tenant without one accepts the `created` event of its first."""
    if event_type.startswith("invoice."):
        billed = obj.get("subscription")
        return isinstance(billed, str) and billed != current
    if not event_type.startswith("customer.subscription."):
        return False
    subscription = str(obj.get("id") or "")
    if current is None:
        return not subscription or event_type != "customer.subscription.created"
    return subscription != current


def decide(
    current: Current,
    event_type: str,
    created: int,
    obj: Mapping[str, Any],
    plan_tiers: Mapping[str, str],
) -> Decision:
    def keep(why: str) -> Decision:
        return Decision(why, current.state, current.tier, current.version, current.tier_version)

    if event_type not in HANDLED:
        return keep(f"ignored: {event_type} is not handled")
    if current.state is State.CANCELED:
        return keep("ignored: the subscription is canceled")
    subscription = event_type.startswith("customer.subscription.")
    # The plan (tier) follows the newest subscription snapshot, even one that arrives after a
    # newer invoice event; the billing state follows the newest event of any kind.
    newer_plan = subscription and created >= current.tier_version
    if created < current.version and not newer_plan:
        return keep(f"stale: created {created} is older than the state applied ({current.version})")
    state: State = current.state
    tier, tier_version = current.tier, current.tier_version
    if subscription:
        status = "canceled" if event_type.endswith(".deleted") else str(obj.get("status", ""))
        if status not in SUBSCRIPTION_STATUS:
            return keep(f"ignored: subscription status {status!r}")
        plan = plan_of(obj)
        if plan is not None:
            if plan not in plan_tiers:
                return keep(f"ignored: plan {plan!r} is not in the catalog")
            tier, tier_version = plan_tiers[plan], created
        if created < current.version:  # only the plan was news
            return Decision("applied", current.state, tier, current.version, tier_version)
        state = SUBSCRIPTION_STATUS[status]
        if state is State.PAST_DUE and current.state is State.SUSPENDED:
            state = State.SUSPENDED  # still unpaid: the grace period already ran out
    elif event_type in PAID:
        state = State.ACTIVE
    elif event_type in FAILED:
        if current.state is not State.SUSPENDED:
            state = State.PAST_DUE
    elif event_type == "checkout.session.completed":
        state = CHECKOUT_STATUS.get(str(obj.get("payment_status")), current.state)
    start_grace = state is State.PAST_DUE and current.state is not State.PAST_DUE
    return Decision("applied", state, tier, created, tier_version, start_grace)


def takeover(obj: Mapping[str, Any], pending_session: str | None) -> str | None:
    """The subscription a completed Checkout session brings, when it is the tenant's own open
    session (the one the control plane created and recorded) in subscription mode."""
    subscription = obj.get("subscription")
    if pending_session is None or obj.get("id") != pending_session:
        return None
    if obj.get("mode", "subscription") != "subscription" or not isinstance(subscription, str):
        return None
    return subscription


def notices(event_type: str, before: State, after: State) -> list[str]:
    """What an applied event tells the tenant's billing contact (services.notices' names): the
    trial ending, a failed payment (each attempt, while past due), resuming after suspension,
    and a cancellation's offboarding."""
    told = []
    if event_type == "customer.subscription.trial_will_end" and after is State.TRIALING:
        told.append("trial_ending")
    if event_type in FAILED and event_type.startswith("invoice.") and after is State.PAST_DUE:
        told.append("payment_failed")  # the payment intent's failure is the same attempt
    if before is State.SUSPENDED and after in (State.ACTIVE, State.TRIALING):
        told.append("resumed")
    if after is State.CANCELED and before is not State.CANCELED:
        told.append("offboarding_scheduled")
    return told
