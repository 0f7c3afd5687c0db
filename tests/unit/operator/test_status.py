"""Status is computed from an observation: conditions, phase, transition times and events."""

import datetime as dt
from typing import Any

from tenantry_operator import conditions, decide, model, status

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)
OK = conditions.StepResult(True, conditions.Reason.PROVISIONED, "done")
# The Tier asks for a silo; the tenant's data stays in the pool while it moves.
NEEDED = decide.Decision("ent", model.Isolation.POOL, model.Isolation.SILO)


def ok(generation: int, **fields: Any) -> status.Observation:
    """An observation whose three steps succeeded."""
    return status.Observation(generation, namespace=OK, database=OK, workload=OK, **fields)


def by_type(conds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in conds}


def test_all_steps_ok_is_ready() -> None:
    result = status.compute(ok(7, placement="pool"), [], T0)
    conds = by_type(result["conditions"])
    assert result["phase"] == "Ready"
    assert result["placement"] == "pool"
    assert result["observedGeneration"] == 7
    assert list(conds) == [
        "NamespaceReady",
        "DatabaseReady",
        "WorkloadReady",
        "Suspended",
        "MigrationRequired",
        "Migrating",
        "MigrationFailed",
        "Ready",
    ]
    assert conds["Ready"] == {
        "type": "Ready",
        "status": "True",
        "reason": "Provisioned",
        "message": "tenant is provisioned",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 7,
    }
    assert conds["Suspended"]["status"] == "False"
    assert conds["MigrationRequired"]["status"] == "False"


def test_missing_tier_blocks_every_step_and_is_pending() -> None:
    blocked = conditions.StepResult(
        False, conditions.Reason.TIER_NOT_FOUND, "Tier 'x' does not exist"
    )
    result = status.compute(status.Observation(1, blocked=blocked), [], T0)
    conds = by_type(result["conditions"])
    assert result["phase"] == "Pending"
    for ctype in ("NamespaceReady", "DatabaseReady", "WorkloadReady", "Ready"):
        assert (conds[ctype]["status"], conds[ctype]["reason"]) == ("False", "TierNotFound")


def test_failed_step_names_its_reason_on_ready() -> None:
    failed = conditions.StepResult(False, conditions.Reason.APPLY_FAILED, "ResourceQuota: bad")
    result = status.compute(status.Observation(1, namespace=failed), [], T0)
    conds = by_type(result["conditions"])
    assert result["phase"] == "Failed"
    assert conds["Ready"]["reason"] == "ApplyFailed"
    assert conds["Ready"]["message"] == "ResourceQuota: bad"
    assert conds["DatabaseReady"]["reason"] == "Reconciling"


def test_steps_in_progress_are_provisioning() -> None:
    waiting = conditions.StepResult(False, conditions.Reason.WORKLOAD_NOT_READY, "0/2 available")
    obs = status.Observation(1, namespace=OK, database=OK, workload=waiting)
    result = status.compute(obs, [], T0)
    assert result["phase"] == "Provisioning"
    assert by_type(result["conditions"])["Ready"]["reason"] == "WorkloadNotReady"
    assert obs.failed_steps() == [waiting]


def test_suspended_tenant_is_not_ready_and_says_why() -> None:
    result = status.compute(ok(2, suspended=True), [], T0)
    conds = by_type(result["conditions"])
    assert result["phase"] == "Suspended"
    assert conds["Suspended"]["status"] == "True"
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "Suspended")


def test_migration_required_keeps_the_tenant_ready() -> None:
    result = status.compute(ok(3, decision=NEEDED), [], T0)
    conds = by_type(result["conditions"])
    assert result["phase"] == "Ready"
    assert conds["MigrationRequired"]["status"] == "True"
    assert conds["MigrationRequired"]["reason"] == "IsolationChanged"


def test_transition_time_moves_only_when_status_changes() -> None:
    first = status.conditions_of(ok(1), [], T0)
    again = status.conditions_of(ok(2), first, T1)
    assert by_type(again)["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert by_type(again)["Ready"]["observedGeneration"] == 2
    failed = conditions.StepResult(False, conditions.Reason.DATABASE_UNAVAILABLE, "down")
    broken = status.conditions_of(
        status.Observation(3, namespace=OK, database=failed, workload=OK), again, T1
    )
    assert by_type(broken)["Ready"]["lastTransitionTime"] == "2026-01-01T00:05:00Z"
    assert by_type(broken)["NamespaceReady"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"


def pairs(events: list[conditions.Event]) -> list[tuple[str, str]]:
    return [(e.type, e.reason) for e in events]


def test_events_announce_transitions_once() -> None:
    first = status.conditions_of(ok(1), [], T0)
    assert pairs(conditions.events([], first)) == [
        ("Normal", "NamespaceReady"),
        ("Normal", "DatabaseReady"),
        ("Normal", "WorkloadReady"),
        ("Normal", "Ready"),
    ]
    assert conditions.events(first, first) == []
    failed = conditions.StepResult(
        False, conditions.Reason.DATABASE_UNAVAILABLE, "connection refused"
    )
    broken = status.conditions_of(
        status.Observation(1, namespace=OK, database=failed, workload=OK), first, T1
    )
    assert pairs(conditions.events(first, broken)) == [
        ("Warning", "DatabaseUnavailable"),
        ("Warning", "DatabaseUnavailable"),
    ]


def test_suspend_resume_and_migration_events() -> None:
    ready = status.conditions_of(ok(1), [], T0)
    suspended = status.conditions_of(ok(2, suspended=True), ready, T1)
    assert pairs(conditions.events(ready, suspended)) == [("Normal", "Suspended")]
    resumed = status.conditions_of(ok(3), suspended, T1)
    assert pairs(conditions.events(suspended, resumed)) == [
        ("Normal", "Resumed"),
        ("Normal", "Ready"),
    ]
    moved = status.conditions_of(ok(4, decision=NEEDED), resumed, T1)
    assert pairs(conditions.events(resumed, moved)) == [("Warning", "IsolationChanged")]


def test_in_progress_steps_make_no_warning() -> None:
    assert conditions.events([], status.conditions_of(status.Observation(1), [], T0)) == []
