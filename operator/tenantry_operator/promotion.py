"""A Tier's policy move (`spec.placement.promote`): when a pooled tenant outgrows its place
(more stored rows, or more requests a minute, than the Tier allows), it is promoted to bridge
or silo, proposed (an Event and the MoveProposed condition) or set going (the Tenant's
`spec.placement.isolation`), as the Tier says.

Pure: `model.Tier` parses the rule, `promoting` reads the tenant's metered load and carries
the decision out; unit tests feed `decide` literal rules and loads. A rule only ever promotes
(pool → bridge → silo), never acts while a move is asked for or under way, and only proposes
when the tenant's placement was chosen explicitly (spec.placement.isolation is set).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tenantry_core import enums

Isolation = enums.Isolation
RANK = {Isolation.POOL: 0, Isolation.BRIDGE: 1, Isolation.SILO: 2}


class Action(enum.StrEnum):
    PROPOSE = "Propose"  # an Event and the MoveProposed condition; an admin decides
    MOVE = "Move"  # spec.placement.isolation is set: the live move starts


@dataclass(frozen=True)
class Rule:
    to: Isolation
    above_rows: int | None = None
    above_requests_per_minute: int | None = None
    action: Action = Action.PROPOSE

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Rule | None:
        """The rule in a Tier's spec (`placement.promote`), None if it has none."""
        promote = (spec.get("placement") or {}).get("promote")
        if not promote:
            return None
        rows, rate = promote.get("aboveRows"), promote.get("aboveRequestsPerMinute")
        return cls(
            to=Isolation(promote["to"]),
            above_rows=int(rows) if rows is not None else None,
            above_requests_per_minute=int(rate) if rate is not None else None,
            action=Action(promote.get("action", Action.PROPOSE.value)),
        )


@dataclass(frozen=True)
class Load:
    """A tenant's metered load: its stored rows and its requests a minute."""

    rows: int
    requests_per_minute: float


def requests_per_minute(calls_today: int, now: dt.datetime) -> float:
    """Today's (UTC) average rate: the calls metered today over the minutes gone by (at
    least one)."""
    midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = max(1.0, (now - midnight).total_seconds() / 60)
    return calls_today / minutes


@dataclass(frozen=True)
class Proposal:
    """The move a rule asks for, or, with `exceeded` False, why it asks for none."""

    exceeded: bool
    target: Isolation
    action: Action
    why: str


def decide(
    *,
    rule: Rule | None,
    placement: Isolation | None,
    explicit: bool,
    moving: bool,
    load: Load | None,
) -> Proposal | None:
    """What the rule says of a tenant at `placement` with `load`; None when it does not apply
    (no rule, a tenant not placed yet or already at or above its target, a move under way, no
    load metered yet)."""
    if rule is None or placement is None or load is None or moving:
        return None
    if RANK[placement] >= RANK[rule.to]:
        return None
    over: list[str] = []
    if rule.above_rows is not None and load.rows > rule.above_rows:
        over.append(f"{load.rows} rows above {rule.above_rows}")
    rate = load.requests_per_minute
    if rule.above_requests_per_minute is not None and rate > rule.above_requests_per_minute:
        over.append(f"{rate:.1f} requests/min above {rule.above_requests_per_minute}")
    if not over:
        limits = [
            f"{load.rows} rows (limit {rule.above_rows})" if rule.above_rows is not None else "",
            f"{rate:.1f} requests/min (limit {rule.above_requests_per_minute})"
            if rule.above_requests_per_minute is not None
            else "",
        ]
        return Proposal(False, rule.to, rule.action, ", ".join(p for p in limits if p))
    action = Action.PROPOSE if explicit else rule.action
    return Proposal(True, rule.to, action, "; ".join(over))
