"""The tier catalog: the Tiers in the cluster as the API shows them, held in memory, and who
may choose a tier by self-service (`admit`, from each Tier's `spec.selfService`).

workers.mirror fills it from Kubernetes (a list, then watch events); the api reads it for
`GET /tiers`, signup, tier changes, entitlements and each tier's rate limit; services.tenants
asks `admit` before a signup or a tenant admin's plan change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from control_plane import schemas
from control_plane.services import errors


class TierCache:
    """The Tiers in the cluster, as the API shows them; `loaded` once the first list arrived."""

    def __init__(self, signup_tiers: list[str]) -> None:
        self.signup_tiers = set(signup_tiers)
        self._tiers: dict[str, schemas.TierPublic] = {}
        self.loaded = threading.Event()

    def _public(self, obj: dict[str, Any]) -> schemas.TierPublic:
        spec, name = obj.get("spec") or {}, obj["metadata"]["name"]
        rules = spec.get("selfService") or {}
        return schemas.TierPublic(
            name=name,
            display_name=str(spec.get("displayName") or name),
            isolation=spec["isolation"],
            quota=dict(spec.get("quota") or {}),
            rate_limit_per_minute=int(spec.get("rateLimitPerMinute", 600)),
            features=list(spec.get("features") or []),
            self_service=name in self.signup_tiers and bool(rules.get("allowed", True)),
            requires_verified_email=bool(rules.get("requiresVerifiedEmail", False)),
            requires_payment_method=bool(rules.get("requiresPaymentMethod", False)),
            billable=bool(spec.get("billable", True)),
        )

    def replace(self, items: list[dict[str, Any]]) -> None:
        self._tiers = {obj["metadata"]["name"]: self._public(obj) for obj in items}
        self.loaded.set()

    def update(self, event: str, obj: dict[str, Any]) -> None:
        tiers = dict(self._tiers)
        if event == "DELETED":
            tiers.pop(obj["metadata"]["name"], None)
        else:
            tiers[obj["metadata"]["name"]] = self._public(obj)
        self._tiers = tiers

    def all(self) -> list[schemas.TierPublic]:
        return sorted(self._tiers.values(), key=lambda t: t.name)

    def get(self, name: str | None) -> schemas.TierPublic | None:
        return self._tiers.get(name or "")

    def self_service(self) -> set[str]:
        """The tiers offered at signup (SIGNUP_TIERS that exist); `admit` says on what terms."""
        return {name for name in self._tiers if name in self.signup_tiers}

    def names(self) -> set[str]:
        return set(self._tiers)

    def billable(self, tier: str | None) -> bool:
        """Whether tenants on `tier` are billed (an unknown tier is, like the default)."""
        found = self.get(tier)
        return found.billable if found else True

    def rate_limit(self, tier: str | None) -> int | None:
        """The tier's requests a minute, None for an unknown tier."""
        found = self.get(tier)
        return found.rate_limit_per_minute if found else None


def admit(
    tier: schemas.TierPublic,
    *,
    email_verified: bool,
    has_payment_method: Callable[[], bool],
) -> None:
    """Let a tenant admin choose `tier`, or refuse saying why: errors.Forbidden when the tier is
    not self-service or the owner's email is unverified, errors.PaymentRequired without a
    payment method (asked only when the tier needs one). Platform admins are not asked."""
    if not tier.self_service:
        raise errors.Forbidden(
            f"tier {tier.name!r} is not self-service; ask the platform's administrators",
            reason="tier_not_self_service",
        )
    if tier.requires_verified_email and not email_verified:
        raise errors.Forbidden(
            f"tier {tier.name!r} needs the owner's verified email; verify it first",
            reason="email_unverified",
        )
    if tier.requires_payment_method and not has_payment_method():
        raise errors.PaymentRequired(
            f"tier {tier.name!r} needs a payment method; add one to the subscription first",
            reason="payment_method_required",
        )
