"""Which server a new tenant's data goes to: the one the Tenant names, else the one its Tier's
placement policy picks among the servers of the placement's kind (pool shards for pool and
bridge, silo servers for a silo).

The policy: the servers the Tier allows (`placement.servers`, all by default; a Tier's list
names servers of its own placement's kind, so a Tenant whose `spec.placement.isolation` takes
it to the other kind may use every server of that kind), less the
cordoned ones, and, when the Tier names a label key (`placement.matchLabel`), only those whose
label of that key equals the Tenant's own (data residency: `region: eu` tenants on `region: eu`
servers); among those, the fewest tenants or the least stored rows.

Pure: `steps.place_new` gathers the declared servers, their labels and loads (`servers`) into a
`Fleet`, calls `server_for` for a tenant placed for the first time, records the answer in
`status.server` before any data is made, and posts `explain` as an Event. Unit tests feed it
literal fleets.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from tenantry_operator import model

Policy = model.PlacementPolicy
POOL_SHARD, SILO_SERVER = "pool shard", "silo server"


def kind_of(isolation: model.Isolation) -> str:
    """The kind of server a placement of `isolation` uses: a silo server, else a pool shard."""
    return SILO_SERVER if isolation is model.Isolation.SILO else POOL_SHARD


class UnknownServer(ValueError):
    """A Tenant or Tier names a server that is not declared (or not of the placement's kind),
    or no declared server may take the tenant."""


@dataclass(frozen=True)
class Load:
    """What one server holds: tenants placed there and the tenant rows stored there."""

    tenants: int = 0
    rows: int = 0


@dataclass(frozen=True)
class Fleet:
    """The servers of one kind a new tenant may go to, as the operator knows them now."""

    kind: str  # POOL_SHARD or SILO_SERVER
    declared: Sequence[str]
    loads: Mapping[str, Load] = field(default_factory=dict)
    cordoned: Collection[str] = ()
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # by server


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


def candidates(tenant: model.Tenant, tier: model.Tier, fleet: Fleet) -> list[str]:
    """The servers the Tier's policy picks among (see the module's docstring); UnknownServer
    when it allows an undeclared one, or when none is left."""
    declared = ", ".join(fleet.declared)
    listed = tier.placement_servers if kind_of(tier.isolation) == fleet.kind else ()
    allowed = listed or tuple(fleet.declared)
    unknown = [name for name in allowed if name not in fleet.declared]
    if unknown:
        raise UnknownServer(
            f"Tier {tier.name!r} allows servers {', '.join(unknown)} that are not declared "
            f"{fleet.kind}s (declared: {declared})"
        )
    open_ = [name for name in allowed if name not in fleet.cordoned]
    if not open_:
        raise UnknownServer(
            f"every {fleet.kind} Tier {tier.name!r} allows is cordoned ({', '.join(allowed)})"
        )
    key = tier.placement_label
    wanted = tenant.label(key) if key else None
    if wanted is None:
        return open_
    matching = [name for name in open_ if fleet.labels.get(name, {}).get(key) == wanted]
    if not matching:
        raise UnknownServer(
            f"no {fleet.kind} Tier {tier.name!r} allows is labelled {key}={wanted} "
            f"(open: {', '.join(open_)})"
        )
    return matching


def server_for(tenant: model.Tenant, tier: model.Tier, fleet: Fleet) -> str:
    """The server a new tenant is placed on: `spec.placement.server` when the Tenant names one
    (even a cordoned one), else the Tier's policy over its candidates."""
    if tenant.wanted_server:
        if tenant.wanted_server not in fleet.declared:
            raise UnknownServer(
                f"server {tenant.wanted_server!r} is not a declared {fleet.kind} "
                f"(declared: {', '.join(fleet.declared)})"
            )
        return tenant.wanted_server
    return choose(tier.placement_policy, fleet.loads, candidates(tenant, tier, fleet))


def explain(tenant: model.Tenant, tier: model.Tier, fleet: Fleet, chosen: str) -> str:
    """Why `server_for` chose `chosen`, for the Placed event: the Tenant's own pick, or the
    Tier's policy with the load of every candidate it weighed."""
    if tenant.wanted_server:
        return f"Placed on {fleet.kind} {chosen}: the Tenant names it in spec.placement.server"
    figures = ", ".join(
        f"{name} {fleet.loads.get(name, Load()).tenants} tenants/"
        f"{fleet.loads.get(name, Load()).rows} rows"
        for name in candidates(tenant, tier, fleet)
    )
    how = tier.placement_policy.value
    if tier.placement_label and tenant.label(tier.placement_label) is not None:
        how += f" among servers labelled {tier.placement_label}="
        how += str(tenant.label(tier.placement_label))
    return f"Placed on {fleet.kind} {chosen} by policy {how} ({figures})"
