"""Pure status computation: everything the operator writes into a Tenant's status.

`compute` turns what one reconcile observed into the whole status: the conditions, the phase,
the placement, and the migration, database, restoredFrom, tierRevision and namespace blocks.
`migration_progress` is the patch (and Event) a running live migration posts after each phase;
`deleting` is the delete handler's status. Conditions follow the Kubernetes convention (type,
status, reason, message, lastTransitionTime, observedGeneration); lastTransitionTime only moves
when a condition's status changes. `events()` turns condition transitions into the Events the
handlers post, so a step is announced once, not on every resync. Used by `reconcile` and
`handlers`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tenantry_core import enums
from tenantry_operator import decide, migration_state, model, planning


class ConditionType(enum.StrEnum):
    NAMESPACE_READY = "NamespaceReady"
    DATABASE_READY = "DatabaseReady"
    WORKLOAD_READY = "WorkloadReady"
    SUSPENDED = "Suspended"
    MIGRATION_REQUIRED = "MigrationRequired"
    MIGRATING = "Migrating"
    MIGRATION_FAILED = "MigrationFailed"
    READY = "Ready"


class Reason(enum.StrEnum):
    PROVISIONED = "Provisioned"
    RECONCILING = "Reconciling"
    TIER_NOT_FOUND = "TierNotFound"
    APPLY_FAILED = "ApplyFailed"
    DATABASE_UNAVAILABLE = "DatabaseUnavailable"
    DATABASE_FAILED = "DatabaseFailed"
    RESTORE_FAILED = "RestoreFailed"
    NAMESPACE_NOT_READY = "NamespaceNotReady"
    DATABASE_NOT_READY = "DatabaseNotReady"
    WORKLOAD_NOT_READY = "WorkloadNotReady"
    SHARED_WORKLOAD = "SharedWorkload"
    SUSPENDED = "Suspended"
    ACTIVE = "Active"
    ISOLATION_CHANGED = "IsolationChanged"
    MIGRATION_IN_PROGRESS = "MigrationInProgress"
    MIGRATION_COMPLETED = "MigrationCompleted"
    NOT_MIGRATING = "NotMigrating"
    VERIFICATION_FAILED = "VerificationFailed"
    PLACEMENT_MATCHES_TIER = "PlacementMatchesTier"


Phase = enums.Phase
MigrationPhase = enums.MigrationPhase


@dataclass(frozen=True)
class StepResult:
    """Outcome of one ensure-step: ok, or a reason and message saying why not."""

    ok: bool
    reason: Reason = Reason.PROVISIONED
    message: str = ""


PENDING = StepResult(False, Reason.RECONCILING, "not reconciled yet")

# Waiting on something outside the tenant (a Tier to appear) rather than on a failed step.
_WAITING = {Reason.TIER_NOT_FOUND}
# In progress: no Warning, phase Provisioning.
IN_PROGRESS = {
    Reason.RECONCILING,
    Reason.NAMESPACE_NOT_READY,
    Reason.DATABASE_NOT_READY,
    Reason.WORKLOAD_NOT_READY,
}
# Conditions whose True is the unusual state.
_ABNORMAL_WHEN_TRUE = {
    ConditionType.SUSPENDED,
    ConditionType.MIGRATION_REQUIRED,
    ConditionType.MIGRATING,
    ConditionType.MIGRATION_FAILED,
}
_CLEARED = {
    ConditionType.SUSPENDED: "Resumed",
    ConditionType.MIGRATION_REQUIRED: "PlacementMatchesTier",
    ConditionType.MIGRATING: "MigrationFinished",
    ConditionType.MIGRATION_FAILED: "MigrationFailureCleared",
}
_WARNING_WHEN_TRUE = {ConditionType.MIGRATION_REQUIRED, ConditionType.MIGRATION_FAILED}


@dataclass(frozen=True)
class Observation:
    """What one reconcile found. A blocked precondition leaves the later steps PENDING; the
    blocks beside the conditions are written only when known."""

    generation: int
    blocked: StepResult | None = None
    namespace: StepResult = PENDING
    database: StepResult = PENDING
    workload: StepResult = PENDING
    suspended: bool = False
    placement: str | None = None  # where the data is served from, once the database step ran
    decision: decide.Decision | None = None  # the placement decision, settled
    waiting: str | None = None  # why a running migration waits (it is retried)
    migration: migration_state.MigrationState | None = None  # the migration run this time
    tier_revision: str | None = None
    namespace_name: str | None = None
    data: tuple[planning.DatabasePlan, planning.Endpoint] | None = None  # provisioned data
    restored_from: str | None = None

    def failed_steps(self) -> list[StepResult]:
        steps = (self.namespace, self.database, self.workload)
        return [s for s in steps if not s.ok and s is not PENDING and s.reason not in _WAITING]


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


def _ready(obs: Observation) -> StepResult:
    if obs.blocked:
        return obs.blocked
    for step, waiting in (
        (obs.namespace, Reason.NAMESPACE_NOT_READY),
        (obs.database, Reason.DATABASE_NOT_READY),
        (obs.workload, Reason.WORKLOAD_NOT_READY),
    ):
        if not step.ok:
            return StepResult(False, waiting if step is PENDING else step.reason, step.message)
    if obs.suspended:
        return StepResult(False, Reason.SUSPENDED, "the tenant is suspended")
    return StepResult(True, Reason.PROVISIONED, "tenant is provisioned")


def _placement(obs: Observation) -> tuple[StepResult, StepResult, StepResult]:
    """MigrationRequired, Migrating and MigrationFailed, from the settled placement decision."""
    required = StepResult(False, Reason.PLACEMENT_MATCHES_TIER, "")
    migrating = failed = StepResult(False, Reason.NOT_MIGRATING, "")
    decision = obs.decision
    if decision is None:
        return required, migrating, failed
    last = decision.migration
    if decision.failed and last is not None:
        failed = StepResult(
            True,
            Reason.VERIFICATION_FAILED,
            f"{last.message}; the tenant stays on {decision.placement}",
        )
    if obs.waiting is not None and last is not None:
        migrating = StepResult(
            True, Reason.MIGRATION_IN_PROGRESS, f"{last.phase}: waiting: {obs.waiting}"
        )
    if decision.placement is not decision.wanted:
        how = (
            "a live migration failed; change the Tenant to try again"
            if decision.failed
            else "live migration is not supported between these models"
            if not decision.supported
            else "its live migration is under way"
        )
        required = StepResult(
            True,
            Reason.ISOLATION_CHANGED,
            f"Tier {decision.tier!r} uses {decision.wanted} isolation; the tenant stays on "
            f"{decision.placement}: {how} (its data is untouched)",
        )
    return required, migrating, failed


def conditions(
    obs: Observation, previous: Sequence[Mapping[str, Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = {str(c.get("type")): c for c in previous}
    steps = (obs.namespace, obs.database, obs.workload)
    if obs.blocked:
        steps = (obs.blocked, obs.blocked, obs.blocked)
    suspended = (
        StepResult(
            True,
            Reason.SUSPENDED,
            "spec.suspended is true: workload scaled to zero, logins stopped",
        )
        if obs.suspended
        else StepResult(False, Reason.ACTIVE, "")
    )
    migration, migrating, failed = _placement(obs)
    gen = obs.generation
    return [
        _condition(ConditionType.NAMESPACE_READY, steps[0], gen, stamp, before),
        _condition(ConditionType.DATABASE_READY, steps[1], gen, stamp, before),
        _condition(ConditionType.WORKLOAD_READY, steps[2], gen, stamp, before),
        _condition(ConditionType.SUSPENDED, suspended, gen, stamp, before),
        _condition(ConditionType.MIGRATION_REQUIRED, migration, gen, stamp, before),
        _condition(ConditionType.MIGRATING, migrating, gen, stamp, before),
        _condition(ConditionType.MIGRATION_FAILED, failed, gen, stamp, before),
        _condition(ConditionType.READY, _ready(obs), gen, stamp, before),
    ]


def phase(conds: Sequence[Mapping[str, Any]]) -> Phase:
    by_type = {c["type"]: c for c in conds}
    ready = by_type.get(ConditionType.READY)
    if ready is None:
        return Phase.PENDING
    if ready["status"] == "True":
        return Phase.READY
    if ready["reason"] == Reason.SUSPENDED:
        return Phase.SUSPENDED
    if ready["reason"] in _WAITING:
        return Phase.PENDING
    if ready["reason"] in IN_PROGRESS:
        return Phase.PROVISIONING
    return Phase.FAILED


def compute(
    obs: Observation, previous: Sequence[Mapping[str, Any]], now: dt.datetime
) -> dict[str, Any]:
    """The whole status one reconcile writes (a merge patch: a block left out is kept)."""
    conds = conditions(obs, previous, now)
    result: dict[str, Any] = {
        "conditions": conds,
        "phase": phase(conds).value,
        "observedGeneration": obs.generation,
    }
    if obs.placement:
        result["placement"] = obs.placement
    if obs.tier_revision is not None:
        result["tierRevision"] = obs.tier_revision
    if obs.namespace_name is not None:
        result["namespace"] = obs.namespace_name
    if obs.migration is not None:
        result["migration"] = obs.migration.to_status()
    if obs.data is not None:
        result["database"] = database(*obs.data)
    if obs.restored_from is not None:
        result["restoredFrom"] = obs.restored_from
    return result


def database(plan: planning.DatabasePlan, endpoint: planning.Endpoint) -> dict[str, Any]:
    """`status.database`: where the tenant's data is and which Secret reaches it."""
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "name": endpoint.database,
        "schema": plan.schema,
        "tenantKey": plan.tenant_key,
        "secretRef": {"namespace": model.namespace(plan.tenant_key), "name": planning.SECRET_NAME},
    }


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
        if cond["type"] in _ABNORMAL_WHEN_TRUE:
            if cond["status"] == "True":
                kind = "Warning" if cond["type"] in _WARNING_WHEN_TRUE else "Normal"
                out.append(Event(kind, cond["reason"], f"{cond['type']}: {cond['message']}"))
            elif old is not None and old.get("status") == "True":
                out.append(Event("Normal", _CLEARED[cond["type"]], f"{cond['type']} cleared"))
            continue
        ok = cond["status"] == "True"
        if not ok and cond["reason"] in IN_PROGRESS | {Reason.SUSPENDED}:
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


@dataclass(frozen=True)
class Progress:
    """What a running live migration posts after each phase: a status patch and an Event."""

    patch: dict[str, Any]
    event: Event


def migration_progress(
    state: migration_state.MigrationState,
    previous: Sequence[Mapping[str, Any]],
    now: dt.datetime,
) -> Progress:
    """The migration block and a Migrating condition that says the phase; once routing points
    at the target (CleaningUp, Completed), the placement too."""
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kept = [c for c in previous if c.get("type") != ConditionType.MIGRATING]
    migrating = {
        "type": ConditionType.MIGRATING.value,
        "status": "True",
        "reason": Reason.MIGRATION_IN_PROGRESS.value,
        "message": f"{state.phase}: {state.message}",
        "lastTransitionTime": stamp,
    }
    patch: dict[str, Any] = {"migration": state.to_status(), "conditions": [*kept, migrating]}
    if state.phase in (MigrationPhase.CLEANING_UP, MigrationPhase.COMPLETED):
        patch["placement"] = state.target.value
    failed = state.phase in (MigrationPhase.ROLLING_BACK, MigrationPhase.FAILED)
    event = Event(
        "Warning" if failed else "Normal",
        f"Migration{state.phase}",
        f"{state.source} → {state.target}: {state.message}",
    )
    return Progress(patch, event)


@dataclass(frozen=True)
class Retained:
    """Where the data of a Tenant deleted with deletionPolicy Retain is kept."""

    placement: model.Isolation
    database: str
    schema: str
    tenant_key: str


@dataclass(frozen=True)
class Snapshot:
    """The snapshot written when a Tenant with deletionPolicy Snapshot was deleted."""

    file: str
    rows: Mapping[str, int]  # per table


@dataclass(frozen=True)
class Offboarded:
    """What offboarding did: a sentence for the Event, and what status records of it."""

    done: str
    retained: Retained | None = None
    snapshot: Snapshot | None = None


def deleting(offboarded: Offboarded | None = None) -> dict[str, Any]:
    """The delete handler's status: phase Deleting, and once offboarded where the data went."""
    result: dict[str, Any] = {"phase": Phase.DELETING.value}
    if offboarded is not None and offboarded.retained is not None:
        kept = offboarded.retained
        result["retainedData"] = {
            "placement": kept.placement.value,
            "database": kept.database,
            "schema": kept.schema,
            "tenantKey": kept.tenant_key,
        }
    if offboarded is not None and offboarded.snapshot is not None:
        written = offboarded.snapshot
        result["snapshot"] = {"file": written.file, "rows": dict(written.rows)}
    return result
