"""The rebalancing planner: which pooled tenants to move between pool shards so that their
loads (stored rows, tenant count or requests) even out. Pure: services.placement hands it the
shards and the tenants on them, and carries the plan out; unit tests feed it literal inputs.

Greedy: while the spread (the most loaded shard's load less the least loaded one's) can shrink,
move the one tenant of the most loaded shard to the least loaded one that shrinks it most; never
a tenant already moving, never one twice, and never more than `max_moves` moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Placed:
    """A pooled tenant on a shard, with its load (1 each when evening out tenant counts)."""

    tenant_key: str
    server: str
    load: int
    moving: bool = False


@dataclass(frozen=True)
class Move:
    tenant_key: str
    source: str
    target: str
    load: int


@dataclass(frozen=True)
class Plan:
    moves: tuple[Move, ...]
    before: Mapping[str, int]  # each shard's load now
    after: Mapping[str, int]  # and once the moves are done

    @staticmethod
    def spread(loads: Mapping[str, int]) -> int:
        return max(loads.values()) - min(loads.values()) if loads else 0


def loads_of(shards: Sequence[str], tenants: Sequence[Placed]) -> dict[str, int]:
    """Each shard's load: the sum of its tenants' (a tenant on an unknown shard is left out)."""
    loads = dict.fromkeys(shards, 0)
    for tenant in tenants:
        if tenant.server in loads:
            loads[tenant.server] += tenant.load
    return loads


def plan(*, shards: Sequence[str], tenants: Sequence[Placed], max_moves: int) -> Plan:
    """The moves that even out `shards`, best first."""
    before = loads_of(shards, tenants)
    loads = dict(before)
    where = {t.tenant_key: t.server for t in tenants}
    movable = sorted(
        (t for t in tenants if not t.moving and t.server in loads), key=lambda t: t.tenant_key
    )
    moved: set[str] = set()
    moves: list[Move] = []
    while len(moves) < max_moves and len(loads) > 1:
        # Ties go to the first shard by name, so the plan is the same for the same input.
        high = max(sorted(loads), key=lambda s: loads[s])
        low = min(sorted(loads), key=lambda s: loads[s])
        spread = loads[high] - loads[low]
        best: tuple[int, Placed] | None = None
        for tenant in movable:
            if tenant.tenant_key in moved or where[tenant.tenant_key] != high:
                continue
            trial = {**loads, high: loads[high] - tenant.load, low: loads[low] + tenant.load}
            after = Plan.spread(trial)
            if after < spread and (best is None or after < best[0]):
                best = (after, tenant)
        if best is None:
            break
        tenant = best[1]
        loads[high] -= tenant.load
        loads[low] += tenant.load
        where[tenant.tenant_key] = low
        moved.add(tenant.tenant_key)
        moves.append(Move(tenant.tenant_key, high, low, tenant.load))
    return Plan(tuple(moves), before, loads)
