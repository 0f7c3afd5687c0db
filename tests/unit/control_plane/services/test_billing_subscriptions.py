"""A subscription event counts only for the tenant's current subscription."""

from control_plane.services import billing_rules as rules

SUB = {"id": "sub_current", "customer": "cus_1"}
OTHER = {"id": "sub_other", "customer": "cus_1"}


def test_only_the_current_subscription_counts() -> None:
    for kind in ("created", "updated", "deleted"):
        event = f"customer.subscription.{kind}"
        assert not rules.foreign_subscription(event, SUB, "sub_current")
        assert rules.foreign_subscription(event, OTHER, "sub_current")
        assert rules.foreign_subscription(event, {"customer": "cus_1"}, "sub_current")


def test_a_tenant_without_a_subscription_takes_only_a_created_one() -> None:
    assert not rules.foreign_subscription("customer.subscription.created", SUB, None)
    assert rules.foreign_subscription("customer.subscription.updated", SUB, None)
    assert rules.foreign_subscription("customer.subscription.deleted", SUB, None)
    assert rules.foreign_subscription("customer.subscription.created", {}, None)


def test_an_invoice_counts_only_for_the_current_subscription() -> None:
    for kind in ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"):
        assert not rules.foreign_subscription(kind, {"subscription": "sub_current"}, "sub_current")
        assert rules.foreign_subscription(kind, {"subscription": "sub_old"}, "sub_current")
        assert rules.foreign_subscription(kind, {"subscription": "sub_old"}, None)
        assert not rules.foreign_subscription(kind, {"subscription": None}, "sub_current")


def test_other_events_are_not_about_a_subscription() -> None:
    assert not rules.foreign_subscription("checkout.session.completed", {}, None)
    assert not rules.foreign_subscription("customer.updated", {"id": "cus_1"}, "sub_current")
