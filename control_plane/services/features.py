"""May this tenant use feature X, in the control plane: `tenantry_core.flags` over the registry.

`install` (called by control_plane.main at start-up) makes the OpenFeature provider of
`tenantry_core.flags.DOMAIN` read each tenant's facts from the registry (its tier and ring, the
flags, its overrides) and the tier catalog (what each Tier lists), or sets the provider
FEATURE_FLAG_PROVIDER names instead. `require` refuses with errors.NotEntitled (a 403 naming
the plans that include the feature): the tenant audit API asks it for `audit-log`
(api.routes.audit), OIDC sign-in and invitations accepted with an OIDC token for `sso`
(services.auth, services.members). `entitlements` lists what a tenant may use.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence

from openfeature.evaluation_context import EvaluationContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.services import errors, tiers
from tenantry_core import flags

AUDIT_LOG = "audit-log"
SSO = "sso"


def facts(
    *, session: Session, tenant_id: uuid.UUID, catalog: tiers.TierCache
) -> flags.Facts | None:
    """The tenant's facts as the registry holds them now (None: no such tenant)."""
    tenant = session.get(models.Tenant, tenant_id)
    if tenant is None:
        return None
    overrides = session.scalars(
        select(models.FeatureOverride).where(models.FeatureOverride.tenant_id == tenant_id)
    )
    return facts_of(
        tenant,
        catalog,
        flag_rows=session.scalars(select(models.FeatureFlag)).all(),
        overrides={o.feature: o.enabled for o in overrides},
    )


def facts_of(
    tenant: models.Tenant,
    catalog: tiers.TierCache,
    *,
    flag_rows: Sequence[models.FeatureFlag] = (),
    overrides: Mapping[str, bool] | None = None,
) -> flags.Facts:
    return flags.Facts(
        tenant=flags.Tenant(str(tenant.id), tenant.tier, flags.Ring(tenant.ring)),
        tier_features={t.name: t.features for t in catalog.all()},
        flags={f.key: as_flag(f) for f in flag_rows},
        overrides=dict(overrides or {}),
    )


def as_flag(row: models.FeatureFlag) -> flags.Flag:
    return flags.Flag(
        key=row.key,
        enabled=row.enabled,
        tenants=frozenset(str(t) for t in row.tenants),
        ring=flags.Ring(row.ring) if row.ring else None,
        percentage=row.percentage,
    )


def loader(
    sessions: Callable[[], Session], catalog: tiers.TierCache
) -> Callable[[EvaluationContext], flags.Facts | None]:
    """The provider's reader: a context's tenant's facts, each read in a session of its own."""

    def load(context: EvaluationContext) -> flags.Facts | None:
        if not catalog.loaded.is_set():
            raise flags.FactsUnavailable("the tier catalog is not loaded yet")
        try:
            tenant_id = uuid.UUID(str(context.targeting_key))
        except ValueError:
            return None
        with sessions() as session:
            return facts(session=session, tenant_id=tenant_id, catalog=catalog)

    return load


def install(sessions: Callable[[], Session], catalog: tiers.TierCache, custom: str | None) -> None:
    flags.install(loader(sessions, catalog), custom)


def require(*, tenant_id: uuid.UUID, feature: str) -> None:
    """Refuse (errors.NotEntitled, or errors.Unavailable when it cannot be told now) unless the
    tenant may use `feature`."""
    answer = flags.ask(feature, str(tenant_id))
    if answer.enabled:
        return
    if answer.error is not None and answer.reason == "ERROR":
        raise errors.Unavailable(
            "Features unavailable",
            f"the tenant's features cannot be read: {answer.error}",
            retry_after=2,
        )
    raise errors.NotEntitled(feature, plan=answer.tier, plans=answer.plans, reason=answer.reason)


def entitlements(
    *, tenant: models.Tenant, catalog: tiers.TierCache, found: flags.Facts | None
) -> schemas.EntitlementsPublic:
    """What the tenant may use now (by its `facts`), and what its plan lists."""
    current = catalog.get(tenant.tier)
    return schemas.EntitlementsPublic(
        tenant_id=tenant.id,
        tier=tenant.tier,
        features=found.enabled() if found else [],
        plan_features=sorted(current.features) if current else [],
        ring=tenant.ring,
        rate_limit_per_minute=current.rate_limit_per_minute if current else None,
    )
