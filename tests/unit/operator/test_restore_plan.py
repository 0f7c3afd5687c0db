"""A live restore as a move whose source is a backup: spec.restore starts one (once per
request) into the tenant's current placement and server, its state keeps the backup through
status, its history line names it, and the backup timer keeps the backup it loads."""

import dataclasses
import datetime as dt
from typing import Any

from tenantry_operator import backups, decide, migration_state, model

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
Phase = migration_state.Phase
BACKUP = "acme-0123abcd-backup-20260101110000.dump"


def tenant(
    restore: dict[str, str] | None, placement: str = "bridge", done: str = ""
) -> model.Tenant:
    body: dict[str, Any] = {
        "metadata": {"name": "acme", "generation": 4, "uid": "0123abcd-1"},
        "spec": {"tier": "ent", **({"restore": restore} if restore else {})},
        "status": {"placement": placement, "server": "shard-b", "restoreRequested": done},
    }
    return model.Tenant.from_body(body)


def tier() -> model.Tier:
    return model.Tier.from_body({"metadata": {"name": "ent"}, "spec": {"isolation": "bridge"}})


def test_spec_restore_starts_a_restore_into_the_current_placement_and_server() -> None:
    asked = tenant({"backup": BACKUP, "requested": "r1"})
    decision = decide.decide(asked, tier(), None, NOW)
    assert decision.action is decide.Action.START
    begun = decision.to_run
    assert begun is not None
    assert (begun.source, begun.target) == (model.Isolation.BRIDGE, model.Isolation.BRIDGE)
    assert (begun.source_server, begun.target_server) == ("shard-b", "shard-b")
    assert (begun.backup, begun.requested, begun.phase) == (BACKUP, "r1", Phase.PROVISIONING)


def test_a_restore_runs_once_per_request_whatever_its_end() -> None:
    asked = tenant({"backup": BACKUP, "requested": "r1"})
    begun = decide.decide(asked, tier(), None, NOW).to_run
    assert begun is not None
    for phase in (Phase.COMPLETED, Phase.FAILED):
        ended = dataclasses.replace(begun, phase=phase)
        assert decide.decide(asked, tier(), ended, NOW).action is decide.Action.NONE
    again = tenant({"backup": BACKUP, "requested": "r2"})
    done = dataclasses.replace(begun, phase=Phase.COMPLETED)
    assert decide.decide(again, tier(), done, NOW).action is decide.Action.START
    running = dataclasses.replace(begun, phase=Phase.SWITCHING)
    assert decide.decide(asked, tier(), running, NOW).action is decide.Action.RESUME


def test_a_restore_that_ended_is_not_run_again_after_a_later_move() -> None:
    restored = tenant({"backup": BACKUP, "requested": "r1"}, done="r1")
    moved = migration_state.begin(
        model.Isolation.POOL, model.Isolation.BRIDGE, generation=5, now=NOW
    )
    later = dataclasses.replace(moved, phase=Phase.COMPLETED)
    assert decide.decide(restored, tier(), later, NOW).action is decide.Action.NONE


def test_no_restore_without_spec_restore() -> None:
    assert decide.decide(tenant(None), tier(), None, NOW).action is decide.Action.NONE
    assert not migration_state.restore_wanted("", "", None)


def test_the_backup_survives_status_and_names_the_history_line() -> None:
    begun = migration_state.begin_restore(
        model.Isolation.POOL, "main", backup=BACKUP, requested="r1", generation=2, now=NOW
    )
    block = begun.to_status()
    assert (block["backup"], block["restoreRequested"]) == (BACKUP, "r1")
    assert migration_state.MigrationState.from_status(block) == begun
    ended = dataclasses.replace(begun, phase=Phase.COMPLETED).ended(NOW)
    assert ended.history_entry()["backup"] == BACKUP
    moved = migration_state.begin(model.Isolation.POOL, model.Isolation.SILO, generation=1, now=NOW)
    assert "backup" not in moved.to_status()
    assert "backup" not in moved.history_entry()


def test_pruning_keeps_the_backup_a_running_restore_loads() -> None:
    begun = migration_state.begin_restore(
        model.Isolation.POOL, "main", backup=BACKUP, requested="r1", generation=2, now=NOW
    )
    assert backups.in_use({"migration": begun.to_status()}) == {BACKUP.removesuffix(".dump")}
    done = dataclasses.replace(begun, phase=Phase.COMPLETED)
    assert backups.in_use({"migration": done.to_status()}) == set()
    assert backups.in_use({}) == set()
