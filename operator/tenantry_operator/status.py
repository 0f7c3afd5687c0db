"""Pure status computation: from what a reconcile observed to `status.conditions` and phase.

Conditions follow the Kubernetes convention (type, status, reason, message, lastTransitionTime,
observedGeneration); lastTransitionTime only moves when a condition's status changes. `events()`
turns condition transitions into the Events the handlers post, so a step is announced once, not
on every resync.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ConditionType(enum.StrEnum):
    NAMESPACE_READY = "NamespaceReady"
    DATABASE_READY = "DatabaseReady"
    READY = "Ready"


class Reason(enum.StrEnum):
    PROVISIONED = "Provisioned"
    RECONCILING = "Reconciling"
    TIER_NOT_FOUND = "TierNotFound"
    ISOLATION_NOT_SUPPORTED = "IsolationNotSupported"
    APPLY_FAILED = "ApplyFailed"
    DATABASE_UNAVAILABLE = "DatabaseUnavailable"
    DATABASE_FAILED = "DatabaseFailed"
    NAMESPACE_NOT_READY = "NamespaceNotReady"
    DATABASE_NOT_READY = "DatabaseNotReady"


class Phase(enum.StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    READY = "Ready"
    SUSPENDED = "Suspended"
    FAILED = "Failed"
    DELETING = "Deleting"


@dataclass(frozen=True)
class StepResult:
    """Outcome of one ensure-step: ok, or a reason and message saying why not."""

    ok: bool
    reason: Reason = Reason.PROVISIONED
    message: str = ""


PENDING = StepResult(False, Reason.RECONCILING, "not reconciled yet")

# Reasons that wait on something outside the tenant (a Tier to appear, a later release) rather
# than on a failed step.
_WAITING = {Reason.TIER_NOT_FOUND, Reason.ISOLATION_NOT_SUPPORTED}


@dataclass(frozen=True)
class Observation:
    """What one reconcile found. A blocked precondition leaves the later steps PENDING."""

    generation: int
    blocked: StepResult | None = None
    namespace: StepResult = PENDING
    database: StepResult = PENDING
    placement: str | None = None


def _condition(
    ctype: ConditionType,
    result: StepResult,
    generation: int,
    now: str,
    previous: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    status = "True" if result.ok else "False"
    before = previous.get(ctype.value)
    if before is None or before.get("status") != status:
        transitioned = now
    else:
        transitioned = str(before.get("lastTransitionTime", now))
    return {
        "type": ctype.value,
        "status": status,
        "reason": result.reason.value,
        "message": result.message,
        "lastTransitionTime": transitioned,
        "observedGeneration": generation,
    }


def conditions(
    observation: Observation, previous: Sequence[Mapping[str, Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = {str(c.get("type")): c for c in previous}
    namespace, database = observation.namespace, observation.database
    if observation.blocked:
        namespace = database = observation.blocked
    if namespace.ok and database.ok:
        ready = StepResult(True, Reason.PROVISIONED, "tenant is provisioned")
    elif observation.blocked:
        ready = observation.blocked
    elif not namespace.ok:
        ready = StepResult(
            False,
            namespace.reason if namespace is not PENDING else Reason.NAMESPACE_NOT_READY,
            namespace.message,
        )
    else:
        ready = StepResult(
            False,
            database.reason if database is not PENDING else Reason.DATABASE_NOT_READY,
            database.message,
        )
    gen = observation.generation
    return [
        _condition(ConditionType.NAMESPACE_READY, namespace, gen, stamp, before),
        _condition(ConditionType.DATABASE_READY, database, gen, stamp, before),
        _condition(ConditionType.READY, ready, gen, stamp, before),
    ]


def phase(conds: Sequence[Mapping[str, Any]]) -> Phase:
    ready = next((c for c in conds if c["type"] == ConditionType.READY), None)
    if ready is None:
        return Phase.PENDING
    if ready["status"] == "True":
        return Phase.READY
    if ready["reason"] in _WAITING:
        return Phase.PENDING
    if ready["reason"] in (
        Reason.RECONCILING,
        Reason.NAMESPACE_NOT_READY,
        Reason.DATABASE_NOT_READY,
    ):
        return Phase.PROVISIONING
    return Phase.FAILED


def status(
    observation: Observation, previous: Sequence[Mapping[str, Any]], now: dt.datetime
) -> dict[str, Any]:
    conds = conditions(observation, previous, now)
    result: dict[str, Any] = {
        "conditions": conds,
        "phase": phase(conds).value,
        "observedGeneration": observation.generation,
    }
    if observation.placement:
        result["placement"] = observation.placement
    return result


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


def events(
    previous: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]]
) -> list[Event]:
    """One Event per condition that changed status or reason since the last reconcile."""
    before = {c.get("type"): c for c in previous}
    out = []
    for cond in current:
        old = before.get(cond["type"])
        if old and old.get("status") == cond["status"] and old.get("reason") == cond["reason"]:
            continue
        ok = cond["status"] == "True"
        if not ok and cond["reason"] in (
            Reason.RECONCILING,
            Reason.NAMESPACE_NOT_READY,
            Reason.DATABASE_NOT_READY,
        ):
            continue
        message = cond["message"] or cond["type"]
        out.append(
            Event(
                "Normal" if ok else "Warning",
                cond["type"] if ok else cond["reason"],
                f"{cond['type']}: {message}",
            )
        )
    return out
