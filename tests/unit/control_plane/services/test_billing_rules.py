"""Billing decisions depend on an event's snapshot and timestamp, never on arrival order."""

from typing import Any

from control_plane.services import billing_rules as rules

PLANS = {"standard-monthly": "standard", "enterprise-monthly": "enterprise"}
ACTIVE = rules.Current(rules.State.ACTIVE, "standard", 100, 100)


def subscription(status: str, plan: str = "standard-monthly") -> dict[str, Any]:
    return {"status": status, "items": {"data": [{"plan": {"id": plan}}]}}


def test_plan_change_changes_the_tier() -> None:
    decision = rules.decide(
        ACTIVE,
        "customer.subscription.updated",
        200,
        subscription("active", "enterprise-monthly"),
        PLANS,
    )
    assert decision == rules.Decision("applied", rules.State.ACTIVE, "enterprise", 200, 200)


def test_an_older_subscription_snapshot_still_sets_the_plan_but_not_the_state() -> None:
    paid_later = rules.Current(rules.State.ACTIVE, "standard", version=300, tier_version=100)
    decision = rules.decide(
        paid_later,
        "customer.subscription.updated",
        200,
        subscription("past_due", "enterprise-monthly"),
        PLANS,
    )
    assert decision == rules.Decision("applied", rules.State.ACTIVE, "enterprise", 300, 200)


def test_older_events_are_stale() -> None:
    decision = rules.decide(
        ACTIVE, "customer.subscription.updated", 99, subscription("canceled"), PLANS
    )
    assert decision.outcome.startswith("stale")
    assert (decision.state, decision.version) == (rules.State.ACTIVE, 100)


def test_payment_failure_starts_the_grace_period_once() -> None:
    failed = rules.decide(ACTIVE, "invoice.payment_failed", 150, {}, PLANS)
    assert (failed.state, failed.start_grace) == (rules.State.PAST_DUE, True)
    past_due = rules.Current(rules.State.PAST_DUE, "standard", 150)
    again = rules.decide(past_due, "invoice.payment_failed", 160, {}, PLANS)
    assert (again.state, again.start_grace) == (rules.State.PAST_DUE, False)


def test_suspended_stays_suspended_until_paid() -> None:
    suspended = rules.Current(rules.State.SUSPENDED, "standard", 150)
    still = rules.decide(
        suspended, "customer.subscription.updated", 160, subscription("past_due"), PLANS
    )
    assert still.state is rules.State.SUSPENDED
    paid = rules.decide(suspended, "invoice.paid", 170, {}, PLANS)
    assert paid.state is rules.State.ACTIVE


def test_cancellation_is_final() -> None:
    canceled = rules.decide(
        ACTIVE, "customer.subscription.deleted", 200, subscription("active"), PLANS
    )
    assert canceled.state is rules.State.CANCELED
    after = rules.decide(
        rules.Current(rules.State.CANCELED, "standard", 200), "invoice.paid", 300, {}, PLANS
    )
    assert after.outcome == "ignored: the subscription is canceled"


def test_unknown_plans_and_events_change_nothing() -> None:
    unknown = rules.decide(
        ACTIVE, "customer.subscription.updated", 200, subscription("active", "gold-monthly"), PLANS
    )
    assert unknown.outcome == "ignored: plan 'gold-monthly' is not in the catalog"
    other = rules.decide(ACTIVE, "charge.refunded", 200, {}, PLANS)
    assert not other.applied
    assert rules.plan_of({"plan": {"id": "x"}}) == "x"
    assert rules.plan_of({}) is None


def test_payment_intents_count_like_invoices() -> None:
    failed = rules.decide(ACTIVE, "payment_intent.payment_failed", 150, {}, PLANS)
    assert (failed.state, failed.start_grace) == (rules.State.PAST_DUE, True)
    suspended = rules.Current(rules.State.SUSPENDED, "standard", 150)
    paid = rules.decide(suspended, "payment_intent.succeeded", 160, {}, PLANS)
    assert paid.state is rules.State.ACTIVE


def test_a_completed_checkout_is_active_or_trialing() -> None:
    none = rules.Current(rules.State.NONE, "free", 0)
    paid = rules.decide(none, "checkout.session.completed", 10, {"payment_status": "paid"}, PLANS)
    assert paid.state is rules.State.ACTIVE
    trial = rules.decide(
        none, "checkout.session.completed", 10, {"payment_status": "no_payment_required"}, PLANS
    )
    assert trial.state is rules.State.TRIALING
    unpaid = rules.decide(
        none, "checkout.session.completed", 10, {"payment_status": "unpaid"}, PLANS
    )
    assert unpaid.state is rules.State.NONE


def test_trial_will_end_is_a_subscription_snapshot() -> None:
    trialing = rules.Current(rules.State.TRIALING, "standard", 100, 100)
    ending = rules.decide(
        trialing, "customer.subscription.trial_will_end", 200, subscription("trialing"), PLANS
    )
    assert (ending.outcome, ending.state, ending.tier) == (
        "applied",
        rules.State.TRIALING,
        "standard",
    )


def test_only_the_tenants_own_checkout_session_brings_a_subscription() -> None:
    done = {"id": "cs_1", "mode": "subscription", "subscription": "sub_new"}
    assert rules.takeover(done, "cs_1") == "sub_new"
    assert rules.takeover(done, "cs_2") is None  # another session: whoever made it
    assert rules.takeover(done, None) is None
    assert rules.takeover({**done, "mode": "setup"}, "cs_1") is None
    assert rules.takeover({"id": "cs_1", "mode": "subscription"}, "cs_1") is None
