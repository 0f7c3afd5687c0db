"""Which copy an offboarded tenant is served from, and which copy of a live migration is stale."""

import datetime as dt

import pytest
from tenantry_operator import databases, migration_state, model

Phase = migration_state.Phase
POOL, SILO, BRIDGE = model.Isolation.POOL, model.Isolation.SILO, model.Isolation.BRIDGE


def moving(phase: Phase) -> migration_state.MigrationState:
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return migration_state.MigrationState(phase, POOL, SILO, started, generation=2)


def test_no_migration_no_stale_copy() -> None:
    assert databases.offboarding_copies(BRIDGE, None, False) == (BRIDGE, None)


@pytest.mark.parametrize(
    "phase",
    [Phase.PROVISIONING, Phase.COPYING, Phase.CATCHING_UP, Phase.ROLLING_BACK, Phase.FAILED],
)
def test_before_the_switch_the_source_serves_and_the_target_is_stale(phase: Phase) -> None:
    assert databases.offboarding_copies(POOL, moving(phase), False) == (POOL, SILO)


def test_switching_follows_the_routing_row() -> None:
    assert databases.offboarding_copies(POOL, moving(Phase.SWITCHING), False) == (POOL, SILO)
    assert databases.offboarding_copies(POOL, moving(Phase.SWITCHING), True) == (SILO, POOL)


@pytest.mark.parametrize("phase", [Phase.CLEANING_UP, Phase.COMPLETED])
def test_after_the_switch_the_target_serves_and_the_kept_source_is_stale(phase: Phase) -> None:
    # Also once a deletion removed the routing row: a repeat decides the same.
    assert databases.offboarding_copies(SILO, moving(phase), False) == (SILO, POOL)
    assert databases.offboarding_copies(POOL, moving(phase), True) == (SILO, POOL)


def test_a_placement_outside_the_migration_ignores_it() -> None:
    assert databases.offboarding_copies(BRIDGE, moving(Phase.COMPLETED), False) == (BRIDGE, None)
