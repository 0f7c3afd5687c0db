"""A live migration's state keeps the exact JSON of `status.migration` both ways."""

import dataclasses
import datetime as dt
from typing import Any

import pytest
from tenantry_operator import migration_state, model

Phase = migration_state.Phase

SWITCHED: dict[str, Any] = {
    "phase": "CleaningUp",
    "source": "pool",
    "target": "silo",
    "started": "2026-01-01T10:20:30Z",
    "generation": 4,
    "rowsCopied": 51,
    "replicationLagBytes": 0,
    "writeBlockMs": 37,
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
        "started": "2026-01-01T10:20:30Z",
        "generation": 2,
        "rowsCopied": 0,
        "replicationLagBytes": None,
        "writeBlockMs": None,
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
