"""Which server a new pooled tenant's data goes to: the pool shard a Tier's placement policy
picks, or the one the Tenant names.

Pure: `reconcile` gathers the declared shards and their load (`servers`), calls `pooled_server`
for a tenant placed for the first time, and records the answer in `status.server` before any
data is made. Unit tests feed it literal loads.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tenantry_operator import model

Policy = model.PlacementPolicy


class UnknownServer(ValueError):
    """A Tenant or Tier names a server that is not declared (or not of the placement's kind)."""


@dataclass(frozen=True)
class Load:
    """What one server holds: tenants placed there and the tenant rows stored there."""

    tenants: int = 0
    rows: int = 0


def choose(policy: Policy, loads: Mapping[str, Load], candidates: Sequence[str]) -> str:
    """The candidate with the fewest tenants (or rows); ties go to the first listed."""
    if not candidates:
        raise UnknownServer("no declared server may take the tenant")

    def weight(name: str) -> tuple[int, int]:
        load = loads.get(name, Load())
        if policy is Policy.LEAST_ROWS:
            return load.rows, load.tenants
        return load.tenants, load.rows

    return min(candidates, key=weight)


def candidates(tier: model.Tier, declared: Sequence[str], cordoned: Collection[str]) -> list[str]:
    """The pool shards the Tier's policy picks among: those it allows (all declared by
    default), less the cordoned ones; UnknownServer when it allows an undeclared one."""
    allowed = tier.placement_servers or tuple(declared)
    unknown = [name for name in allowed if name not in declared]
    if unknown:
        raise UnknownServer(
            f"Tier {tier.name!r} allows servers {', '.join(unknown)} that are not declared "
            f"pool shards (declared: {', '.join(declared)})"
        )
    open_ = [name for name in allowed if name not in cordoned]
    if not open_:
        raise UnknownServer(
            f"every pool shard Tier {tier.name!r} allows is cordoned ({', '.join(allowed)})"
        )
    return open_


def pooled_server(
    tenant: model.Tenant,
    tier: model.Tier,
    declared: Sequence[str],
    loads: Mapping[str, Load],
    cordoned: Collection[str] = (),
) -> str:
    """The pool shard a new pool or bridge tenant is placed on: `spec.placement.server` when
    the Tenant names one (even a cordoned one), else the Tier's policy over the shards it allows
    (all by default) that are not cordoned."""
    if tenant.wanted_server:
        if tenant.wanted_server not in declared:
            raise UnknownServer(
                f"server {tenant.wanted_server!r} is not a declared pool shard "
                f"(declared: {', '.join(declared)})"
            )
        return tenant.wanted_server
    return choose(tier.placement_policy, loads, candidates(tier, declared, cordoned))


def explain(
    tenant: model.Tenant,
    tier: model.Tier,
    declared: Sequence[str],
    loads: Mapping[str, Load],
    chosen: str,
    cordoned: Collection[str] = (),
) -> str:
    """Why `pooled_server` chose `chosen`, for the Placed event: the Tenant's own pick, or the
    Tier's policy with the load of every candidate it weighed."""
    if tenant.wanted_server:
        return f"Placed on pool shard {chosen}: the Tenant names it in spec.placement.server"
    figures = ", ".join(
        f"{name} {loads.get(name, Load()).tenants} tenants/{loads.get(name, Load()).rows} rows"
        for name in candidates(tier, declared, cordoned)
    )
    return f"Placed on pool shard {chosen} by policy {tier.placement_policy.value} ({figures})"
