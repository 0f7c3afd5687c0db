"""The vocabulary of a Tenant's conditions and the rules they follow: condition types, typed
reasons, the StepResult each reconcile step reports, the phase the conditions add up to, and the
Events their transitions announce.

Pure. Conditions follow the Kubernetes convention (type, status, reason, message,
lastTransitionTime, observedGeneration); lastTransitionTime only moves when a condition's
status changes. `events()` announces a step once, not on every resync. Used by `status`, which
computes the conditions, and by the reconcile steps, which report StepResults.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tenantry_core import enums

Phase = enums.Phase
# Conditions are read by tenants: a database's own words (hosts, ports, errors) go to the log.
UNAVAILABLE = "the tenant's database server does not answer yet; the operator retries"
FAILED = "the tenant's database refused a change; the operator's log has the details"


class ConditionType(enum.StrEnum):
    NAMESPACE_READY = "NamespaceReady"
    DATABASE_READY = "DatabaseReady"
    WORKLOAD_READY = "WorkloadReady"
    SUSPENDED = "Suspended"
    MIGRATION_REQUIRED = "MigrationRequired"
    MIGRATING = "Migrating"
    MIGRATION_FAILED = "MigrationFailed"
    MOVE_PROPOSED = "MoveProposed"  # a Tier's policy move (promotion); only on Tiers with one
    READY = "Ready"


class Reason(enum.StrEnum):
    PROVISIONED = "Provisioned"
    RECONCILING = "Reconciling"
    TIER_NOT_FOUND = "TierNotFound"
    APPLY_FAILED = "ApplyFailed"
    DATABASE_UNAVAILABLE = "DatabaseUnavailable"
    DATABASE_FAILED = "DatabaseFailed"
    PROVISIONING_FAILED = "ProvisioningFailed"  # Terraform or Pulumi ran and failed
    PROVISIONER_MISSING = "ProvisionerMissing"  # the Tier's provisioner has no tool here
    RESTORE_FAILED = "RestoreFailed"
    RESTORE_REFUSED = "RestoreRefused"
    ADOPTION_FAILED = "AdoptionFailed"
    NAMESPACE_NOT_READY = "NamespaceNotReady"
    DATABASE_NOT_READY = "DatabaseNotReady"
    WORKLOAD_NOT_READY = "WorkloadNotReady"
    SHARED_WORKLOAD = "SharedWorkload"
    SUSPENDED = "Suspended"
    ACTIVE = "Active"
    ISOLATION_CHANGED = "IsolationChanged"
    MIGRATION_IN_PROGRESS = "MigrationInProgress"
    NOT_MIGRATING = "NotMigrating"
    VERIFICATION_FAILED = "VerificationFailed"
    PLACEMENT_MATCHES_TIER = "PlacementMatchesTier"
    UNKNOWN_SERVER = "UnknownServer"  # spec.placement or the Tier names no declared server
    MOVE_PROPOSED = "MoveProposed"  # the Tier's policy proposes a move
    POLICY_MOVE = "PolicyMove"  # the Tier's policy set the move going
    BELOW_LIMITS = "BelowLimits"  # the Tier's policy has nothing to propose


@dataclass(frozen=True)
class StepResult:
    """Outcome of one ensure-step: ok, or a reason and message saying why not; `changed`
    names what the step had to create or change (drift, when the step was already done)."""

    ok: bool
    reason: Reason = Reason.PROVISIONED
    message: str = ""
    changed: tuple[str, ...] = ()


PENDING = StepResult(False, Reason.RECONCILING, "not reconciled yet")

# Waiting on something outside the tenant (a Tier to appear) rather than on a failed step.
WAITING = {Reason.TIER_NOT_FOUND}
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
    ConditionType.MOVE_PROPOSED,
}
_CLEARED = {
    ConditionType.SUSPENDED: "Resumed",
    ConditionType.MIGRATION_REQUIRED: "PlacementMatchesTier",
    ConditionType.MIGRATING: "MigrationFinished",
    ConditionType.MIGRATION_FAILED: "MigrationFailureCleared",
    ConditionType.MOVE_PROPOSED: "MoveProposalCleared",
}
_WARNING_WHEN_TRUE = {ConditionType.MIGRATION_REQUIRED, ConditionType.MIGRATION_FAILED}


def condition(
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


def phase(conds: Sequence[Mapping[str, Any]]) -> Phase:
    by_type = {c["type"]: c for c in conds}
    ready = by_type.get(ConditionType.READY)
    if ready is None:
        return Phase.PENDING
    if ready["status"] == "True":
        return Phase.READY
    if ready["reason"] == Reason.SUSPENDED:
        return Phase.SUSPENDED
    if ready["reason"] in WAITING:
        return Phase.PENDING
    if ready["reason"] in IN_PROGRESS:
        return Phase.PROVISIONING
    return Phase.FAILED


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
