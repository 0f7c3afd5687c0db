"""Status is computed from an observation: conditions, phase, transition times and events."""

import datetime as dt

from tenantry_operator import status

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)
OK = status.StepResult(True, status.Reason.PROVISIONED, "done")


def by_type(conds: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {c["type"]: c for c in conds}


def test_all_steps_ok_is_ready() -> None:
    result = status.status(
        status.Observation(7, namespace=OK, database=OK, placement="pool"), [], T0
    )
    conds = by_type(result["conditions"])
    assert result["phase"] == "Ready"
    assert result["placement"] == "pool"
    assert result["observedGeneration"] == 7
    assert conds["Ready"] == {
        "type": "Ready",
        "status": "True",
        "reason": "Provisioned",
        "message": "tenant is provisioned",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 7,
    }


def test_missing_tier_blocks_every_condition_and_is_pending() -> None:
    blocked = status.StepResult(False, status.Reason.TIER_NOT_FOUND, "Tier 'x' does not exist")
    result = status.status(status.Observation(1, blocked=blocked), [], T0)
    assert result["phase"] == "Pending"
    assert {c["reason"] for c in result["conditions"]} == {"TierNotFound"}
    assert {c["status"] for c in result["conditions"]} == {"False"}


def test_failed_step_names_its_reason_on_ready() -> None:
    failed = status.StepResult(False, status.Reason.APPLY_FAILED, "ResourceQuota: bad")
    result = status.status(status.Observation(1, namespace=failed), [], T0)
    conds = by_type(result["conditions"])
    assert result["phase"] == "Failed"
    assert conds["Ready"]["reason"] == "ApplyFailed"
    assert conds["Ready"]["message"] == "ResourceQuota: bad"
    assert conds["DatabaseReady"]["reason"] == "Reconciling"


def test_database_not_reached_yet_is_provisioning() -> None:
    waiting = status.StepResult(False, status.Reason.NAMESPACE_NOT_READY, "not active")
    assert (
        status.status(status.Observation(1, namespace=waiting), [], T0)["phase"] == "Provisioning"
    )


def test_transition_time_moves_only_when_status_changes() -> None:
    first = status.conditions(status.Observation(1, namespace=OK, database=OK), [], T0)
    again = status.conditions(status.Observation(2, namespace=OK, database=OK), first, T1)
    assert by_type(again)["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert by_type(again)["Ready"]["observedGeneration"] == 2
    failed = status.StepResult(False, status.Reason.DATABASE_UNAVAILABLE, "down")
    broken = status.conditions(status.Observation(3, namespace=OK, database=failed), again, T1)
    assert by_type(broken)["Ready"]["lastTransitionTime"] == "2026-01-01T00:05:00Z"
    assert by_type(broken)["NamespaceReady"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"


def test_events_announce_transitions_once() -> None:
    first = status.conditions(status.Observation(1, namespace=OK, database=OK), [], T0)
    events = status.events([], first)
    assert [(e.type, e.reason) for e in events] == [
        ("Normal", "NamespaceReady"),
        ("Normal", "DatabaseReady"),
        ("Normal", "Ready"),
    ]
    assert status.events(first, first) == []
    failed = status.StepResult(False, status.Reason.DATABASE_UNAVAILABLE, "connection refused")
    broken = status.conditions(status.Observation(1, namespace=OK, database=failed), first, T1)
    assert [(e.type, e.reason) for e in status.events(first, broken)] == [
        ("Warning", "DatabaseUnavailable"),
        ("Warning", "DatabaseUnavailable"),
    ]


def test_in_progress_steps_make_no_warning() -> None:
    conds = status.conditions(status.Observation(1), [], T0)
    assert status.events([], conds) == []
