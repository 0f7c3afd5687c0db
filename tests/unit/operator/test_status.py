"""Status is computed from an observation: conditions, phase, transition times and events."""

import datetime as dt
from typing import Any

from tenantry_operator import conditions, decide, migration_state, model, planning, status

from tenantry_core import identity

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


KEY = identity.TenantKey("acme")
POOL_PLAN = planning.DatabasePlan(
    KEY, "tnt_acme", "free", model.Isolation.POOL, "public", None, False
)
ENDPOINT = planning.Endpoint("db.internal", 5432, "tenantry_pool")


def moving(phase: str, message: str = "") -> migration_state.MigrationState:
    return migration_state.MigrationState.from_status(
        {
            "phase": phase,
            "source": "pool",
            "target": "silo",
            "started": "2026-01-01T00:00:00Z",
            "generation": 3,
            "message": message,
        }
    )


def test_whole_status_of_a_provisioned_tenant() -> None:
    obs = ok(
        3,
        placement="pool",
        tier_revision="0123456789abcdef",
        namespace_name="tenant-acme",
        data=(POOL_PLAN, ENDPOINT),
        restored_from="acme-1.dump",
    )
    result = status.compute(obs, [], T0)
    assert {k: v for k, v in result.items() if k != "conditions"} == {
        "phase": "Ready",
        "observedGeneration": 3,
        "placement": "pool",
        "tierRevision": "0123456789abcdef",
        "namespace": "tenant-acme",
        "database": {
            "host": "db.internal",
            "port": 5432,
            "name": "tenantry_pool",
            "schema": "public",
            "tenantKey": "acme",
            "secretRef": {"namespace": "tenant-acme", "name": "tenant-db"},
        },
        "restoredFrom": "acme-1.dump",
    }


def test_blocks_not_observed_are_left_out_of_the_patch() -> None:
    blocked = conditions.StepResult(False, conditions.Reason.TIER_NOT_FOUND, "no Tier")
    result = status.compute(status.Observation(1, blocked=blocked), [], T0)
    assert set(result) == {"conditions", "phase", "observedGeneration"}


def test_a_migration_that_ran_is_written_and_completed_matches_the_tier() -> None:
    done = moving("Completed", "on silo; source copy purged")
    decision = decide.settle(
        decide.Decision("ent", model.Isolation.POOL, model.Isolation.SILO), done
    )
    result = status.compute(ok(3, placement="silo", decision=decision, migration=done), [], T0)
    conds = by_type(result["conditions"])
    assert result["migration"] == done.to_status()
    assert result["phase"] == "Ready"
    for ctype in ("MigrationRequired", "Migrating", "MigrationFailed"):
        assert conds[ctype]["status"] == "False", ctype


def test_a_migration_waiting_on_a_database_says_so() -> None:
    copying = moving("Copying", "12 rows copied")
    decision = decide.Decision(
        "ent", model.Isolation.POOL, model.Isolation.SILO, decide.Action.RESUME, copying
    )
    obs = ok(3, decision=decision, migration=copying, waiting="connection refused")
    conds = by_type(status.compute(obs, [], T0)["conditions"])
    assert conds["Migrating"] == {
        "type": "Migrating",
        "status": "True",
        "reason": "MigrationInProgress",
        "message": "Copying: waiting: connection refused",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 3,
    }
    assert conds["MigrationRequired"]["message"].endswith(
        "the tenant stays on pool: its live migration is under way (its data is untouched)"
    )


def test_migration_progress_patch_and_event() -> None:
    previous = status.conditions_of(ok(3), [], T0)
    progress = status.migration_progress(moving("Copying", "12 rows copied"), previous, T1)
    assert progress.patch["migration"]["phase"] == "Copying"
    assert "placement" not in progress.patch
    kept = [c for c in previous if c["type"] != "Migrating"]
    assert progress.patch["conditions"] == [
        *kept,
        {
            "type": "Migrating",
            "status": "True",
            "reason": "MigrationInProgress",
            "message": "Copying: 12 rows copied",
            "lastTransitionTime": "2026-01-01T00:05:00Z",
        },
    ]
    assert progress.event == conditions.Event(
        "Normal", "MigrationCopying", "pool → silo: 12 rows copied"
    )


def test_migration_progress_moves_the_placement_once_routed_and_warns_on_rollback() -> None:
    cleaning = status.migration_progress(moving("CleaningUp"), [], T1)
    assert cleaning.patch["placement"] == "silo"
    rolling = status.migration_progress(moving("RollingBack", "tables differ"), [], T1)
    assert "placement" not in rolling.patch
    assert rolling.event == conditions.Event(
        "Warning", "MigrationRollingBack", "pool → silo: tables differ"
    )


def test_deleting_status_records_where_the_data_went() -> None:
    assert status.deleting() == {"phase": "Deleting"}
    retained = status.Offboarded(
        "retained",
        retained=status.Retained(
            model.Isolation.BRIDGE, "tenantry_pool", "retained_0a1b", "retained_0a1b", "0a-1b"
        ),
    )
    assert status.deleting(retained) == {
        "phase": "Deleting",
        "retainedData": {
            "placement": "bridge",
            "database": "tenantry_pool",
            "schema": "retained_0a1b",
            "tenantKey": "retained_0a1b",
            "uid": "0a-1b",
        },
    }
    snapshot = status.Offboarded("dumped", snapshot=status.Snapshot("acme-1.dump", {"notes": 3}))
    assert status.deleting(snapshot) == {
        "phase": "Deleting",
        "snapshot": {"file": "acme-1.dump", "rows": {"notes": 3}},
    }


RESTORED = conditions.StepResult(
    True, conditions.Reason.PROVISIONED, "done", ("NetworkPolicy a/tenant-isolation (missing)",)
)


def converged(generation: int = 3, revision: str = "r1") -> dict[str, Any]:
    """The status of a tenant that was Ready at `generation` and Tier revision `revision`."""
    return status.compute(ok(generation, placement="pool", tier_revision=revision), [], T0)


def test_what_a_converged_tenants_reconcile_had_to_restore_is_named() -> None:
    obs = status.Observation(3, namespace=RESTORED, database=OK, workload=OK, tier_revision="r1")
    event = status.drift_event(obs, converged())
    assert event is not None
    assert (event.type, event.reason) == ("Warning", "DriftRestored")
    assert "NetworkPolicy a/tenant-isolation (missing)" in event.message


def test_changes_the_operator_was_asked_for_are_no_drift() -> None:
    obs = status.Observation(3, namespace=RESTORED, database=OK, workload=OK, tier_revision="r1")
    assert status.drift_event(obs, {}) is None, "a new tenant"
    assert status.drift_event(obs, converged(generation=2)) is None, "a changed spec"
    assert status.drift_event(obs, converged(revision="r0")) is None, "a changed Tier"
    moving = status.Observation(
        3,
        namespace=RESTORED,
        database=OK,
        workload=OK,
        tier_revision="r1",
        migration=migration_state.begin(
            model.Isolation.POOL, model.Isolation.SILO, generation=3, now=T0
        ),
    )
    assert status.drift_event(moving, converged()) is None, "a migration under way"
    untouched = status.Observation(3, namespace=OK, database=OK, workload=OK, tier_revision="r1")
    assert status.drift_event(untouched, converged()) is None


def test_a_migrations_raw_detail_is_in_its_event_not_its_status() -> None:
    state = migration_state.MigrationState(
        phase=migration_state.Phase.ROLLING_BACK,
        source=model.Isolation.SILO,
        target=model.Isolation.POOL,
        started=T0,
        generation=3,
        message="tables notes differ after the final catch-up",
        reason="VerificationFailed",
        detail="notes: source (3, 'abc') target (2, 'def')",
    )
    progress = status.migration_progress(state, [], T1)
    assert progress.patch["migration"]["message"] == state.message
    assert progress.patch["migration"]["reason"] == "VerificationFailed"
    assert "abc" not in str(progress.patch)
    assert progress.event.type == "Warning"
    assert "source (3, 'abc')" in progress.event.message
