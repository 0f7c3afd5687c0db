"""May this tenant use feature X: the one evaluation both the control plane and the app plane run.

Three things decide, in this order:

1. A per-tenant **override** (a platform admin grants or removes the feature for one tenant)
   wins over everything else.
2. The **plan**: a feature some Tier lists (`spec.features`) is usable only by tenants whose
   tier lists it.
3. A **flag** with the feature's name, if there is one, holds the feature back until it
   targets the tenant: `enabled` (off: nobody), the tenant's id in `tenants`, the tenant's ring
   reached by `ring` (internal → beta → all), or the tenant's bucket (a stable hash of the flag
   name and the tenant id, 0-9999) under `percentage` x 100. Raising the percentage only adds
   tenants.

A feature no Tier lists and no flag names is nobody's. `Provider` is the OpenFeature provider
over these rules: each component gives it a function that reads a tenant's `Facts` from its own
tables (control_plane.services.features from the registry, app_plane.features from the pool),
and asks through an OpenFeature client of `DOMAIN`, so another flag service can replace it.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails
from openfeature.provider import AbstractProvider, Metadata

DOMAIN = "tenantry"  # the OpenFeature domain both components evaluate features in
BUCKETS = 10_000
KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"  # a feature's or flag's name


class Ring(enum.StrEnum):
    """Where a tenant stands in a rollout: a flag at ring R reaches R and the rings before it."""

    INTERNAL = "internal"
    BETA = "beta"
    ALL = "all"

    @property
    def rank(self) -> int:
        return list(Ring).index(self)


class Reason(enum.StrEnum):
    """Why a feature is on or off for a tenant (the OpenFeature reason)."""

    OVERRIDE = "OVERRIDE"  # a platform admin granted or removed it for this tenant
    NOT_IN_PLAN = "NOT_IN_PLAN"  # some plans include it, the tenant's does not
    PLAN = "PLAN"  # the tenant's plan includes it and no flag holds it back
    DISABLED = "DISABLED"  # its flag is switched off
    TARGETED = "TARGETED"  # its flag lists the tenant
    RING = "RING"  # its flag reached the tenant's ring
    SPLIT = "SPLIT"  # the tenant's bucket is within the flag's percentage
    NOT_TARGETED = "NOT_TARGETED"  # its flag does not reach the tenant yet
    UNKNOWN = "UNKNOWN"  # no plan and no flag: nobody has it


@dataclass(frozen=True)
class Flag:
    """A feature's rollout: who has it before everyone (or nobody, once `enabled` is off)."""

    key: str
    enabled: bool = True
    tenants: frozenset[str] = frozenset()  # tenant ids it always reaches
    ring: Ring | None = None  # reached rings: this one and those before it
    percentage: int = 0  # 0-100 of tenants, by bucket


@dataclass(frozen=True)
class Tenant:
    id: str
    tier: str
    ring: Ring = Ring.ALL


@dataclass(frozen=True)
class Decision:
    enabled: bool
    reason: Reason
    plans: tuple[str, ...] = ()  # the tiers whose plans include the feature


@dataclass(frozen=True)
class Facts:
    """What one tenant's evaluation needs: its tier and ring, what each tier lists, the flags
    and the tenant's overrides (feature → granted)."""

    tenant: Tenant
    tier_features: Mapping[str, Collection[str]]
    flags: Mapping[str, Flag] = field(default_factory=dict)
    overrides: Mapping[str, bool] = field(default_factory=dict)

    def plans(self, feature: str) -> tuple[str, ...]:
        return tuple(sorted(t for t, listed in self.tier_features.items() if feature in listed))

    def decide(self, feature: str) -> Decision:
        return evaluate(
            feature,
            tenant=self.tenant,
            plans=self.plans(feature),
            flag=self.flags.get(feature),
            override=self.overrides.get(feature),
        )

    def enabled(self) -> list[str]:
        """Every feature the tenant may use now, sorted."""
        known = {f for listed in self.tier_features.values() for f in listed}
        known |= set(self.flags) | set(self.overrides)
        return sorted(f for f in known if self.decide(f).enabled)


def bucket(flag_key: str, tenant_id: str) -> int:
    """The tenant's stable place (0 to BUCKETS-1) in the flag's rollout: the same on every
    replica and every run, independent between flags."""
    digest = hashlib.sha256(f"{flag_key}/{tenant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def targets(flag: Flag, tenant: Tenant) -> Reason:
    """Whether (and why) the flag reaches the tenant."""
    if not flag.enabled:
        return Reason.DISABLED
    if tenant.id in flag.tenants:
        return Reason.TARGETED
    if flag.ring is not None and tenant.ring.rank <= flag.ring.rank:
        return Reason.RING
    if bucket(flag.key, tenant.id) < flag.percentage * (BUCKETS // 100):
        return Reason.SPLIT
    return Reason.NOT_TARGETED


def evaluate(
    feature: str,
    *,
    tenant: Tenant,
    plans: Collection[str],
    flag: Flag | None,
    override: bool | None,
) -> Decision:
    """Whether the tenant may use `feature`: its override, else its plan and the feature's
    flag (see the module's docstring)."""
    listed = tuple(sorted(plans))
    if override is not None:
        return Decision(override, Reason.OVERRIDE, listed)
    if listed and tenant.tier not in listed:
        return Decision(False, Reason.NOT_IN_PLAN, listed)
    if flag is None:
        return Decision(bool(listed), Reason.PLAN if listed else Reason.UNKNOWN, listed)
    why = targets(flag, tenant)
    return Decision(why in (Reason.TARGETED, Reason.RING, Reason.SPLIT), why, listed)


# -- OpenFeature ----------------------------------------------------------------------------------
def context(tenant_id: str, **attributes: str) -> EvaluationContext:
    """The evaluation context of one tenant (its id is the targeting key)."""
    return EvaluationContext(targeting_key=tenant_id, attributes=attributes)


class FactsUnavailable(Exception):
    """The tables the facts come from cannot be read now."""


class Provider(AbstractProvider):
    """Booleans only: a feature's value for the context's tenant, from `load(context)`. Its
    reason is a `Reason`, and its metadata names the plans including it (`plans`, comma
    separated) and the tenant's tier (`tier`)."""

    def __init__(self, load: Callable[[EvaluationContext], Facts | None]) -> None:
        super().__init__()
        self._load = load

    def get_metadata(self) -> Metadata:
        return Metadata(name="tenantry")

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        if evaluation_context is None or not evaluation_context.targeting_key:
            return _error(default_value, ErrorCode.TARGETING_KEY_MISSING, "no tenant")
        try:
            facts = self._load(evaluation_context)
        except FactsUnavailable as exc:
            return _error(default_value, ErrorCode.PROVIDER_NOT_READY, str(exc))
        if facts is None:
            return _error(default_value, ErrorCode.TARGETING_KEY_MISSING, "no such tenant")
        decision = facts.decide(flag_key)
        return FlagResolutionDetails(
            value=decision.enabled,
            reason=decision.reason.value,
            variant="on" if decision.enabled else "off",
            flag_metadata={"plans": ",".join(decision.plans), "tier": facts.tenant.tier},
        )

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return _error(default_value, ErrorCode.TYPE_MISMATCH, "features are booleans")

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return _error(default_value, ErrorCode.TYPE_MISMATCH, "features are booleans")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return _error(default_value, ErrorCode.TYPE_MISMATCH, "features are booleans")

    def resolve_object_details(
        self, flag_key: str, default_value: Any, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[Any]:
        return _error(default_value, ErrorCode.TYPE_MISMATCH, "features are booleans")


T = TypeVar("T")


def _error(value: T, code: ErrorCode, message: str) -> FlagResolutionDetails[T]:
    return FlagResolutionDetails(
        value=value, error_code=code, error_message=message, reason="ERROR"
    )


@dataclass(frozen=True)
class Answer:
    """A feature's answer for a tenant, as a component acts on it."""

    enabled: bool
    reason: str
    plans: list[str]
    tier: str
    error: str | None = None  # the provider could not answer (the feature counts as off)


def ask(feature: str, tenant_id: str, **attributes: str) -> Answer:
    """Ask the provider set for DOMAIN whether the tenant may use `feature` (off on error)."""
    details = api.get_client(DOMAIN).get_boolean_details(
        feature, False, context(tenant_id, **attributes)
    )
    meta = details.flag_metadata or {}
    plans = str(meta.get("plans") or "")
    return Answer(
        enabled=bool(details.value) and details.error_code is None,
        reason=str(details.reason or ""),
        plans=[p for p in plans.split(",") if p],
        tier=str(meta.get("tier") or attributes.get("tier") or ""),
        error=details.error_message if details.error_code is not None else None,
    )


def install(load: Callable[[EvaluationContext], Facts | None], custom: str | None = None) -> None:
    """Set DOMAIN's provider: Tenantry's over `load`, or the one `custom` names
    (`package.module:factory`, called without arguments) to use another flag service."""
    if custom:
        module, _, factory = custom.partition(":")
        api.set_provider(getattr(importlib.import_module(module), factory)(), domain=DOMAIN)
    else:
        api.set_provider(Provider(load), domain=DOMAIN)


# -- the pool's copy (the control plane writes it, the app plane reads it) ------------------------
FLAGS_TABLE = "tenantry.flags"  # key, enabled, tenants (ids), ring, percentage
OVERRIDES_TABLE = "tenantry.feature_overrides"  # tenant_id, feature, enabled
RINGS_TABLE = "tenantry.tenant_rings"  # tenant_id, ring (tenants not in `all`)
STATE_TABLE = "tenantry.flag_state"  # version: bumped with every change of the three
