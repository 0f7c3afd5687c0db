"""May the caller's tenant use feature X, in the app plane: `tenantry_core.flags` over the pool.

The control plane publishes the flags, overrides and rollout rings to the pool with a version
(`tenantry_core.flags.STATE_TABLE`). Each replica keeps them in memory and, at most every
TENANTRY_FLAGS_CHECK_SECONDS, asks for the version only (one row); when it moved, it reloads
them, so a change reaches every running replica within about that long, without a restart. The
tenant's tier and what each Tier lists are read from the pool at each check (the operator
writes them). A silo tenant's dedicated app has no pool: its tier and features come from its
environment, without flags or overrides.

`install` (app_plane.main's lifespan) sets the OpenFeature provider; `ask` answers for a caller.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from openfeature.evaluation_context import EvaluationContext

from app_plane import data, settings
from tenantry_core import flags, routing


@dataclass(frozen=True)
class Published:
    """The flags, overrides and rings of one published version."""

    version: int = -1
    rollouts: Mapping[str, flags.Flag] = field(default_factory=dict)  # the flags, by key
    overrides: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)  # by tenant id
    rings: Mapping[str, flags.Ring] = field(default_factory=dict)  # by tenant id


class Cache:
    """The newest published flags, the version checked at most every `every` seconds."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.published = Published()
        self._checked = -float("inf")
        self._lock = threading.Lock()

    def current(self, conn: sa.Connection) -> Published:
        with self._lock:
            if time.monotonic() - self._checked < self.every:
                return self.published
            version = conn.execute(sa.text(f"SELECT version FROM {flags.STATE_TABLE}")).scalar()
            if version is not None and version != self.published.version:
                self.published = _load(conn, int(version))
            self._checked = time.monotonic()
            return self.published


def _load(conn: sa.Connection, version: int) -> Published:
    found = {
        row.key: flags.Flag(
            key=row.key,
            enabled=row.enabled,
            tenants=frozenset(row.tenants),
            ring=flags.Ring(row.ring) if row.ring else None,
            percentage=row.percentage,
        )
        for row in conn.execute(
            sa.text(f"SELECT key, enabled, tenants, ring, percentage FROM {flags.FLAGS_TABLE}")
        )
    }
    overrides: dict[str, dict[str, bool]] = defaultdict(dict)
    for row in conn.execute(
        sa.text(f"SELECT tenant_id, feature, enabled FROM {flags.OVERRIDES_TABLE}")
    ):
        overrides[str(row.tenant_id)][row.feature] = row.enabled
    rings = {
        str(row.tenant_id): flags.Ring(row.ring)
        for row in conn.execute(sa.text(f"SELECT tenant_id, ring FROM {flags.RINGS_TABLE}"))
    }
    return Published(version, found, dict(overrides), rings)


_cache: Cache | None = None


def cache() -> Cache:
    global _cache
    if _cache is None:
        _cache = Cache(settings.get_settings().TENANTRY_FLAGS_CHECK_SECONDS)
    return _cache


def load(context: EvaluationContext) -> flags.Facts | None:
    """The facts of the context's tenant (`tenant_key` attribute) from the pool, or from the
    environment in a dedicated app."""
    tenant_id = str(context.targeting_key)
    tenant_key = str(context.attributes.get("tenant_key") or "")
    cfg = settings.get_settings()
    if cfg.dedicated:
        tier = cfg.TENANTRY_TENANT_TIER or ""
        return flags.Facts(flags.Tenant(tenant_id, tier), {tier: cfg.TENANTRY_TENANT_FEATURES})
    try:
        with data.pool_engine().connect() as conn:
            found = conn.execute(
                sa.text(
                    f"SELECT tier FROM {routing.ROUTING_TABLE} "
                    f"WHERE {routing.TENANT_COLUMN} = :k"
                ),
                {"k": tenant_key},
            ).scalar_one_or_none()
            tier_features: dict[str, list[str]] = defaultdict(list)
            for row in conn.execute(
                sa.text(f"SELECT tier, feature FROM {routing.TIER_FEATURES_TABLE}")
            ):
                tier_features[row.tier].append(row.feature)
            published = cache().current(conn)
            conn.rollback()
    except sa.exc.OperationalError as exc:
        raise flags.FactsUnavailable(str(exc).splitlines()[0]) from exc
    if found is None:
        return None
    return flags.Facts(
        tenant=flags.Tenant(tenant_id, str(found), published.rings.get(tenant_id, flags.Ring.ALL)),
        tier_features=tier_features,
        flags=published.rollouts,
        overrides=published.overrides.get(tenant_id, {}),
    )


def install() -> None:
    flags.install(load, settings.get_settings().TENANTRY_FEATURE_FLAG_PROVIDER)


def ask(feature: str, *, tenant_id: str, tenant_key: str) -> flags.Answer:
    return flags.ask(feature, tenant_id, tenant_key=tenant_key)
