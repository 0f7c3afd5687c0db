"""A live migration's state keeps the exact JSON of `status.migration` both ways."""

import dataclasses
import datetime as dt
from typing import Any

import pytest
from tenantry_operator import fencing, migration, migration_state, model

Phase = migration_state.Phase

SWITCHED: dict[str, Any] = {
    "phase": "CleaningUp",
    "source": "pool",
    "target": "silo",
    "sourceServer": "shard-b",
    "targetServer": "db1:5432",
    "started": "2026-01-01T10:20:30Z",
    "finished": None,
    "durationMs": None,
    "generation": 4,
    "rowsCopied": 51,
    "replicationLagBytes": 0,
    "writeBlockMs": 37,
    "switchAttempts": 0,
    "message": "switched to silo; writes waited 37 ms",
    "reason": "",
}


def test_status_block_round_trips_unchanged() -> None:
    state = migration_state.MigrationState.from_status(SWITCHED)
    assert state == migration_state.MigrationState(
        phase=Phase.CLEANING_UP,
        source=model.Isolation.POOL,
        target=model.Isolation.SILO,
        started=dt.datetime(2026, 1, 1, 10, 20, 30, tzinfo=dt.UTC),
        generation=4,
        rows_copied=51,
        replication_lag_bytes=0,
        write_block_ms=37,
        message="switched to silo; writes waited 37 ms",
        source_server="shard-b",
        target_server="db1:5432",
    )
    assert state.to_status() == SWITCHED
    assert list(state.to_status()) == list(SWITCHED)  # the same keys, in the same order


def test_a_new_migration_starts_provisioning_with_nothing_measured() -> None:
    now = dt.datetime(2026, 1, 1, 10, 20, 30, 123456, tzinfo=dt.UTC)
    begun = migration_state.begin(model.Isolation.SILO, model.Isolation.POOL, generation=2, now=now)
    assert begun.to_status() == {
        "phase": "Provisioning",
        "source": "silo",
        "target": "pool",
        "sourceServer": "",
        "targetServer": "",
        "started": "2026-01-01T10:20:30Z",
        "finished": None,
        "durationMs": None,
        "generation": 2,
        "rowsCopied": 0,
        "replicationLagBytes": None,
        "writeBlockMs": None,
        "switchAttempts": 0,
        "message": "",
        "reason": "",
    }
    assert migration_state.MigrationState.from_status(begun.to_status()) == begun
    assert begun.running


def test_stored_reads_the_block_from_a_status() -> None:
    assert migration_state.stored({}) is None
    assert migration_state.stored({"migration": SWITCHED}) == (
        migration_state.MigrationState.from_status(SWITCHED)
    )


@pytest.mark.parametrize(
    ("source", "target", "supported"),
    [
        (model.Isolation.POOL, model.Isolation.SILO, True),
        (model.Isolation.SILO, model.Isolation.POOL, True),
        (model.Isolation.POOL, model.Isolation.BRIDGE, True),
        (model.Isolation.BRIDGE, model.Isolation.POOL, True),
        (model.Isolation.BRIDGE, model.Isolation.SILO, True),
        (model.Isolation.SILO, model.Isolation.BRIDGE, True),
        (model.Isolation.POOL, model.Isolation.POOL, False),
        (model.Isolation.BRIDGE, model.Isolation.BRIDGE, False),
        (model.Isolation.SILO, model.Isolation.SILO, False),
    ],
)
def test_live_migration_moves_between_any_two_placements(
    source: model.Isolation, target: model.Isolation, supported: bool
) -> None:
    assert migration_state.supported(source, target) is supported


def test_completed_and_failed_are_final() -> None:
    assert {
        p
        for p in Phase
        if not migration_state.MigrationState.from_status({**SWITCHED, "phase": p.value}).running
    } == {Phase.COMPLETED, Phase.FAILED}


def test_the_raw_detail_of_a_step_never_reaches_the_status_block() -> None:
    failed = migration_state.MigrationState.from_status(
        {**SWITCHED, "phase": "RollingBack", "reason": "VerificationFailed", "message": "differ"}
    )
    detailed = dataclasses.replace(failed, detail="notes: source (3, 'abc') target (2, 'def')")
    assert detailed.to_status() == failed.to_status()
    assert detailed.to_status()["reason"] == "VerificationFailed"
    assert "abc" not in str(detailed.to_status())


def test_same_kind_moves_need_another_server() -> None:
    pool, bridge, silo = model.Isolation.POOL, model.Isolation.BRIDGE, model.Isolation.SILO
    assert migration_state.supported(pool, pool, "main", "shard-b")
    assert migration_state.supported(bridge, bridge, "shard-b", "main")
    assert not migration_state.supported(bridge, bridge, "main", "main")
    assert not migration_state.supported(pool, pool, "main", "")
    assert migration_state.supported(silo, silo, "silo-a", "silo-b")
    assert not migration_state.supported(silo, silo, "silo-a", "silo-a")
    assert not migration_state.supported(silo, silo, "silo-a", "")
    assert migration_state.supported(pool, silo, "shard-b", "")


def test_a_finished_move_is_stamped_once_and_kept_in_a_bounded_history() -> None:
    begun = migration_state.begin(
        model.Isolation.POOL,
        model.Isolation.POOL,
        generation=3,
        now=dt.datetime(2026, 1, 1, 10, 0, 0, tzinfo=dt.UTC),
        source_server="main",
        target_server="shard-b",
    )
    assert begun.ended(dt.datetime(2026, 1, 1, 10, 0, 5, tzinfo=dt.UTC)) is begun  # running
    done = dataclasses.replace(begun, phase=Phase.COMPLETED, rows_copied=7, write_block_ms=12)
    ended = done.ended(dt.datetime(2026, 1, 1, 10, 0, 2, 500000, tzinfo=dt.UTC))
    assert (ended.duration_ms, ended.to_status()["finished"]) == (2000, "2026-01-01T10:00:02Z")
    assert ended.ended(dt.datetime(2026, 1, 1, 11, 0, 0, tzinfo=dt.UTC)) == ended
    assert ended.history_entry() == {
        "source": "pool",
        "sourceServer": "main",
        "target": "pool",
        "targetServer": "shard-b",
        "started": "2026-01-01T10:00:00Z",
        "finished": "2026-01-01T10:00:02Z",
        "result": "Completed",
        "rowsCopied": 7,
        "writeBlockMs": 12,
        "durationMs": 2000,
        "switchAttempts": 0,
        "reason": "",
    }
    older = [{"started": f"2025-01-01T00:00:{n:02d}Z"} for n in range(12)]
    history = migration_state.with_history(older, ended)
    assert len(history) == migration_state.HISTORY
    assert history[-1] == ended.history_entry()
    assert migration_state.with_history(history, ended) == history  # recorded once


def test_a_switch_that_keeps_giving_way_backs_off_then_rolls_back() -> None:
    state = migration_state.begin(
        model.Isolation.POOL,
        model.Isolation.SILO,
        generation=1,
        now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    waits = []
    for _ in range(migration.SWITCH_ATTEMPTS - 1):
        state, wait = migration.gave_way(state, fencing.FenceTimedOut("too slow"))
        waits.append(wait)
        assert state.phase is Phase.PROVISIONING  # the phase it was in goes on
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert state.to_status()["switchAttempts"] == migration.SWITCH_ATTEMPTS - 1
    state, wait = migration.gave_way(state, fencing.FenceTimedOut("too slow"))
    assert (state.phase, state.reason, wait) == (
        migration_state.Phase.ROLLING_BACK,
        "SwitchTimedOut",
        0,
    )
    assert "gave way to the tenant's writes 10 times" in state.message
    assert state.history_entry()["switchAttempts"] == 10
