"""Pure status computation: everything the operator writes into a Tenant's status.

`compute` turns what one reconcile observed into the whole status: the conditions (by the rules
of `conditions`), the phase, the placement and server, and the migration, database, restoredFrom,
tierRevision and namespace blocks; `drift_event` names what a reconcile restored.
`migration_progress` is the patch and Event a running live migration posts after each phase
(with its line in the history `moves` once it ended); `deleting` is the delete handler's
status. Used by `reconcile`, the reconcile steps and `handlers`; unit tests feed it literal
observations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tenantry_core import enums
from tenantry_operator import conditions, decide, migration_state, model, planning

MigrationPhase = enums.MigrationPhase


@dataclass(frozen=True)
class Observation:
    """What one reconcile found. A blocked precondition leaves the later steps PENDING; the
    blocks beside the conditions are written only when known."""

    generation: int
    blocked: conditions.StepResult | None = None
    namespace: conditions.StepResult = conditions.PENDING
    database: conditions.StepResult = conditions.PENDING
    workload: conditions.StepResult = conditions.PENDING
    suspended: bool = False
    placement: str | None = None  # where the data is served from, once the database step ran
    decision: decide.Decision | None = None  # the placement decision, settled
    waiting: str | None = None  # why a running migration waits (it is retried)
    migration: migration_state.MigrationState | None = None  # the migration run this time
    tier_revision: str | None = None
    namespace_name: str | None = None
    data: tuple[planning.DatabasePlan, planning.Endpoint] | None = None  # provisioned data
    restored_from: str | None = None
    proposal: conditions.StepResult | None = None  # a Tier's policy move (`promoting`), if any

    def failed_steps(self) -> list[conditions.StepResult]:
        steps = (self.namespace, self.database, self.workload)
        return [
            s
            for s in steps
            if not s.ok and s is not conditions.PENDING and s.reason not in conditions.WAITING
        ]


def _ready(obs: Observation) -> conditions.StepResult:
    if obs.blocked:
        return obs.blocked
    for step, waiting in (
        (obs.namespace, conditions.Reason.NAMESPACE_NOT_READY),
        (obs.database, conditions.Reason.DATABASE_NOT_READY),
        (obs.workload, conditions.Reason.WORKLOAD_NOT_READY),
    ):
        if not step.ok:
            return conditions.StepResult(
                False, waiting if step is conditions.PENDING else step.reason, step.message
            )
    if obs.suspended:
        return conditions.StepResult(False, conditions.Reason.SUSPENDED, "the tenant is suspended")
    return conditions.StepResult(True, conditions.Reason.PROVISIONED, "tenant is provisioned")


def _placement(
    obs: Observation,
) -> tuple[conditions.StepResult, conditions.StepResult, conditions.StepResult]:
    """MigrationRequired, Migrating and MigrationFailed, from the settled placement decision."""
    required = conditions.StepResult(False, conditions.Reason.PLACEMENT_MATCHES_TIER, "")
    migrating = failed = conditions.StepResult(False, conditions.Reason.NOT_MIGRATING, "")
    decision = obs.decision
    if decision is None:
        return required, migrating, failed
    last = decision.migration
    if decision.failed and last is not None:
        failed = conditions.StepResult(
            True,
            conditions.Reason.VERIFICATION_FAILED,
            f"{last.message}; the tenant stays on {decision.placement}",
        )
    if obs.waiting is not None and last is not None:
        migrating = conditions.StepResult(
            True, conditions.Reason.MIGRATION_IN_PROGRESS, f"{last.phase}: waiting: {obs.waiting}"
        )
    if decision.refused:
        required = conditions.StepResult(
            True,
            conditions.Reason.UNKNOWN_SERVER,
            f"spec.placement: {decision.refused}; the tenant stays on {decision.placement} on "
            f"{decision.server or 'its server'} (its data is untouched)",
        )
    elif decision.elsewhere:
        where = f" on {decision.wanted_server}" if decision.wanted_server else ""
        how = (
            "a live migration failed; change the Tenant to try again"
            if decision.failed
            else "live migration is not supported between these models"
            if not decision.supported
            else "its live migration is under way"
        )
        required = conditions.StepResult(
            True,
            conditions.Reason.ISOLATION_CHANGED,
            f"Tier {decision.tier!r} uses {decision.wanted} isolation{where}; the tenant stays "
            f"on {decision.placement}: {how} (its data is untouched)",
        )
    return required, migrating, failed


def conditions_of(
    obs: Observation, previous: Sequence[Mapping[str, Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    """Every condition, in a fixed order, Ready last."""
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = {str(c.get("type")): c for c in previous}
    steps = (obs.namespace, obs.database, obs.workload)
    if obs.blocked:
        steps = (obs.blocked, obs.blocked, obs.blocked)
    suspended = (
        conditions.StepResult(
            True,
            conditions.Reason.SUSPENDED,
            "spec.suspended is true: workload scaled to zero, logins stopped",
        )
        if obs.suspended
        else conditions.StepResult(False, conditions.Reason.ACTIVE, "")
    )
    required, migrating, failed = _placement(obs)
    kind = conditions.ConditionType
    results = (
        (kind.NAMESPACE_READY, steps[0]),
        (kind.DATABASE_READY, steps[1]),
        (kind.WORKLOAD_READY, steps[2]),
        (kind.SUSPENDED, suspended),
        (kind.MIGRATION_REQUIRED, required),
        (kind.MIGRATING, migrating),
        (kind.MIGRATION_FAILED, failed),
        *([(kind.MOVE_PROPOSED, obs.proposal)] if obs.proposal is not None else []),
        (kind.READY, _ready(obs)),
    )
    return [
        conditions.condition(ctype, result, obs.generation, stamp, before)
        for ctype, result in results
    ]


def compute(
    obs: Observation, previous: Sequence[Mapping[str, Any]], now: dt.datetime
) -> dict[str, Any]:
    """The whole status one reconcile writes (a merge patch: a block left out is kept)."""
    conds = conditions_of(obs, previous, now)
    result: dict[str, Any] = {
        "conditions": conds,
        "phase": conditions.phase(conds).value,
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
        if obs.data[1].server:
            result["server"] = obs.data[1].server
    if obs.restored_from is not None:
        result["restoredFrom"] = obs.restored_from
    return result


def drift_event(obs: Observation, recorded: Mapping[str, Any]) -> conditions.Event | None:
    """An Event naming what this reconcile restored: what a step had to create or change
    although its condition said Provisioned for this generation and Tier revision, with no
    migration under way (anything else is a change the operator was asked for)."""
    if (
        obs.migration is not None
        or recorded.get("observedGeneration") != obs.generation
        or recorded.get("tierRevision") != obs.tier_revision
    ):
        return None
    before = {str(c.get("type")): c for c in recorded.get("conditions") or []}
    kind = conditions.ConditionType
    restored: list[str] = []
    for ctype, result in (
        (kind.NAMESPACE_READY, obs.namespace),
        (kind.DATABASE_READY, obs.database),
        (kind.WORKLOAD_READY, obs.workload),
    ):
        was = before.get(ctype.value) or {}
        if was.get("status") == "True" and was.get("reason") == conditions.Reason.PROVISIONED:
            restored += result.changed
    if not restored:
        return None
    return conditions.Event(
        "Warning", "DriftRestored", f"restored what was changed by hand: {', '.join(restored)}"
    )


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
class Progress:
    """What a running live migration posts after each phase: a status patch and an Event."""

    patch: dict[str, Any]
    event: conditions.Event


def migration_progress(
    state: migration_state.MigrationState,
    previous: Sequence[Mapping[str, Any]],
    now: dt.datetime,
    moves: Sequence[Mapping[str, Any]] = (),
) -> Progress:
    """The migration block and a Migrating condition that says the phase; once routing points
    at the target (CleaningUp, Completed), the placement and server too; once it ended, its
    line in the history `moves` (status.moves so far). The state's raw detail goes into the
    Event only: tenants read status."""
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kept = [c for c in previous if c.get("type") != conditions.ConditionType.MIGRATING]
    migrating = {
        "type": conditions.ConditionType.MIGRATING.value,
        "status": "True",
        "reason": conditions.Reason.MIGRATION_IN_PROGRESS.value,
        "message": f"{state.phase}: {state.message}",
        "lastTransitionTime": stamp,
    }
    patch: dict[str, Any] = {"migration": state.to_status(), "conditions": [*kept, migrating]}
    if state.phase in (MigrationPhase.CLEANING_UP, MigrationPhase.COMPLETED):
        patch["placement"] = state.target.value
        if state.target_server:
            patch["server"] = state.target_server
    if not state.running:
        patch["moves"] = migration_state.with_history(moves, state)
    failed = state.phase in (MigrationPhase.ROLLING_BACK, MigrationPhase.FAILED)
    detail = f" ({state.detail})" if state.detail else ""  # Events are for admins
    event = conditions.Event(
        "Warning" if failed else "Normal",
        f"Migration{state.phase}",
        f"{_end(state.source, state.source_server)} → {_end(state.target, state.target_server)}: "
        f"{state.message}{detail}",
    )
    return Progress(patch, event)


def _end(placement: enums.Isolation, server: str) -> str:
    return f"{placement} on {server}" if server else str(placement)


@dataclass(frozen=True)
class Retained:
    """Where the data of a Tenant deleted with deletionPolicy Retain is kept."""

    placement: model.Isolation
    database: str
    schema: str
    tenant_key: str  # the uid-bound key of the retained rows
    uid: str  # of the deleted Tenant: spec.adoptRetainedFrom names it


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
    result: dict[str, Any] = {"phase": enums.Phase.DELETING.value}
    if offboarded is not None and offboarded.retained is not None:
        kept = offboarded.retained
        result["retainedData"] = {
            "placement": kept.placement.value,
            "database": kept.database,
            "schema": kept.schema,
            "tenantKey": kept.tenant_key,
            "uid": kept.uid,
        }
    if offboarded is not None and offboarded.snapshot is not None:
        written = offboarded.snapshot
        result["snapshot"] = {"file": written.file, "rows": dict(written.rows)}
    return result
