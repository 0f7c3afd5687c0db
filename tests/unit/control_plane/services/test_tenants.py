"""The tenants service refuses with domain errors, from literal inputs and before it touches the
database (the session given fails loudly if it is used)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, NoReturn

import pytest

from control_plane import models, schemas
from control_plane.core import config, permissions
from control_plane.services import audit, auth, errors, features, tenants, tiers

CTX = audit.Context("user:test")


class Untouchable:
    """A session for a use case that must decide without the database."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the session was used: {name}")


SESSION: Any = Untouchable()


def tenant(**fields: Any) -> models.Tenant:
    defaults: dict[str, Any] = {
        "id": uuid.UUID("00000000-0000-0000-0000-00000000000a"),
        "tenant_key": "acme",
        "company": "Acme",
        "tier": "free",
        "lifecycle": models.Lifecycle.ACTIVE,
        "suspended": False,
        "billing_state": "none",
    }
    return models.Tenant(**(defaults | fields))


def actor(*, platform_admin: bool = False) -> auth.Actor:
    held = frozenset({permissions.Permission.TENANT_UPDATE})
    return auth.Actor("user", uuid.uuid4(), None, None, None, held, platform_admin=platform_admin)


def test_signup_refuses_a_tier_not_offered_and_names_the_offered_ones() -> None:
    data = schemas.SignupCreate(
        company="Acme", email="ceo@acme.example.com", password="correct horse battery", tier="gold"
    )
    with pytest.raises(errors.UnknownTier) as refused:
        tenants.signup(
            session=SESSION,
            ctx=CTX,
            settings=config.Settings(),
            data=data,
            offered={"standard", "free"},
            catalog=tiers.TierCache(["free", "standard"]),
        )
    assert refused.value.detail == "tier 'gold' is not offered"
    assert refused.value.allowed == ["free", "standard"]


def test_only_platform_admins_change_the_tier() -> None:
    with pytest.raises(errors.Forbidden) as refused:
        tenants.update(
            session=SESSION,
            ctx=CTX,
            actor=actor(),
            tenant=tenant(),
            data=schemas.TenantUpdate(tier="pro"),
            known_tiers={"free", "pro"},
        )
    assert refused.value.permission == permissions.PLATFORM_ADMIN


def test_a_platform_admin_moves_a_tenant_only_to_a_known_tier() -> None:
    with pytest.raises(errors.UnknownTier) as refused:
        tenants.update(
            session=SESSION,
            ctx=CTX,
            actor=actor(platform_admin=True),
            tenant=tenant(),
            data=schemas.TenantUpdate(tier="gold"),
            known_tiers={"free", "pro"},
        )
    assert (refused.value.detail, refused.value.allowed) == ("tier 'gold' does not exist", None)


def test_an_offboarded_tenant_is_neither_changed_nor_restored() -> None:
    gone = tenant(lifecycle=models.Lifecycle.OFFBOARDING)
    with pytest.raises(errors.Conflict, match="offboarded") as changed:
        tenants.set_suspended(session=SESSION, ctx=CTX, tenant=gone, suspended=True)
    assert changed.value.title == "Tenant offboarded"
    with pytest.raises(errors.Conflict) as restored:
        tenants.restore(session=SESSION, ctx=CTX, tenant=gone)
    assert restored.value.title == "Grace period over"


def test_a_closing_tenant_is_restored_not_resumed_and_closes_once() -> None:
    closing = tenant(lifecycle=models.Lifecycle.CLOSING, suspended=True)
    with pytest.raises(errors.Conflict) as resumed:
        tenants.set_suspended(session=SESSION, ctx=CTX, tenant=closing, suspended=False)
    assert resumed.value.title == "Tenant closing"
    grace = dt.timedelta(days=30)
    assert tenants.offboard(session=SESSION, ctx=CTX, tenant=closing, grace=grace) is closing


def test_a_cursor_the_api_never_returned_is_invalid_input() -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        tenants.list_tenants(session=SESSION, limit=10, cursor="not-a-cursor")
    assert (refused.value.location, refused.value.field) == ("query", "cursor")


def test_entitlements_are_the_tiers_features_with_overrides_and_flags() -> None:
    catalog = tiers.TierCache(["free"])
    catalog.replace(
        [
            {
                "metadata": {"name": "free"},
                "spec": {"isolation": "pool", "features": ["projects", "api"]},
            }
        ]
    )
    mine = tenant(ring="all")
    found = features.facts_of(mine, catalog, overrides={"api": False, "sso": True})
    seen = features.entitlements(tenant=mine, catalog=catalog, found=found)
    assert (seen.tier, seen.features, seen.plan_features, seen.rate_limit_per_minute) == (
        "free",
        ["projects", "sso"],
        ["api", "projects"],
        600,
    )
    retired = tenant(tier="retired", ring="all")
    unknown = features.entitlements(
        tenant=retired, catalog=catalog, found=features.facts_of(retired, catalog)
    )
    assert (unknown.features, unknown.rate_limit_per_minute) == ([], None)


def catalog_of(**self_service: object) -> tiers.TierCache:
    catalog = tiers.TierCache(["free", "enterprise"])
    spec = {"isolation": "silo", "selfService": self_service}
    catalog.replace([{"metadata": {"name": "enterprise"}, "spec": spec}])
    return catalog


def signup_on(catalog: tiers.TierCache) -> None:
    data = schemas.SignupCreate(
        company="Acme",
        email="ceo@acme.example.com",
        password="correct horse battery",
        tier="enterprise",
    )
    tenants.signup(
        session=SESSION,
        ctx=CTX,
        settings=config.Settings(),
        data=data,
        offered={"enterprise"},
        catalog=catalog,
    )


def test_signup_refuses_a_tier_that_is_not_self_service_or_needs_a_payment_method() -> None:
    with pytest.raises(errors.Forbidden) as closed:
        signup_on(catalog_of(allowed=False))
    assert closed.value.reason == "tier_not_self_service"
    with pytest.raises(errors.PaymentRequired) as unpaid:
        signup_on(catalog_of(requiresPaymentMethod=True))
    assert unpaid.value.reason == "payment_method_required"
