"""Who may choose a tier by self-service, from each Tier's `spec.selfService` (literal Tiers)."""

from __future__ import annotations

from typing import NoReturn

import pytest

from control_plane import schemas
from control_plane.services import errors, tiers


def tier(name: str = "silo", **self_service: object) -> schemas.TierPublic:
    catalog = tiers.TierCache(["free", "silo"])
    spec = {"isolation": "silo", "selfService": self_service}
    catalog.replace([{"metadata": {"name": name}, "spec": spec}])
    found = catalog.get(name)
    assert found is not None
    return found


def unasked() -> NoReturn:
    raise AssertionError("the payment method was asked for although the tier needs none")


def test_defaults_keep_todays_self_service() -> None:
    found = tier()
    assert (found.self_service, found.requires_verified_email) == (True, False)
    assert found.requires_payment_method is False
    tiers.admit(found, email_verified=False, has_payment_method=unasked)
    assert tier("sold").self_service is False  # not in SIGNUP_TIERS


def test_a_closed_tier_is_refused_whatever_the_tenant_has() -> None:
    with pytest.raises(errors.Forbidden) as refused:
        tiers.admit(tier(allowed=False), email_verified=True, has_payment_method=lambda: True)
    assert refused.value.reason == "tier_not_self_service"


def test_verification_then_a_payment_method_are_required_in_that_order() -> None:
    strict = tier(requiresVerifiedEmail=True, requiresPaymentMethod=True)
    with pytest.raises(errors.Forbidden) as unverified:
        tiers.admit(strict, email_verified=False, has_payment_method=unasked)
    assert unverified.value.reason == "email_unverified"
    with pytest.raises(errors.PaymentRequired) as unpaid:
        tiers.admit(strict, email_verified=True, has_payment_method=lambda: False)
    assert unpaid.value.reason == "payment_method_required"
    tiers.admit(strict, email_verified=True, has_payment_method=lambda: True)
