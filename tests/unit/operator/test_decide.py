"""The placement decision, from literal Tenant and Tier specs and the migration status records."""

import dataclasses
import datetime as dt
from typing import Any

import pytest
from tenantry_operator import decide, migration_state, model, status

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
Phase = migration_state.Phase


def tenant(generation: int = 3, placement: str | None = "pool") -> model.Tenant:
    body: dict[str, Any] = {
        "metadata": {"name": "acme", "generation": generation},
        "spec": {"tier": "ent"},
        "status": {"placement": placement} if placement else {},
    }
    return model.Tenant.from_body(body)


def tier(isolation: str) -> model.Tier:
    return model.Tier.from_body({"metadata": {"name": "ent"}, "spec": {"isolation": isolation}})


def stored(
    phase: Phase, generation: int = 3, target: str = "silo"
) -> migration_state.MigrationState:
    return migration_state.MigrationState.from_status(
        {
            "phase": phase.value,
            "source": "pool",
            "target": target,
            "started": "2026-01-01T11:00:00Z",
            "generation": generation,
            "message": "tables notes differ after the final catch-up",
        }
    )


def migration_required(decision: decide.Decision) -> dict[str, Any]:
    obs = status.Observation(3, decision=decision)
    conds = {c["type"]: c for c in status.conditions_of(obs, [], NOW)}
    return conds["MigrationRequired"]


def test_no_migration_when_the_placement_matches_the_tier() -> None:
    decision = decide.decide(tenant(), tier("pool"), None, NOW)
    assert decision == decide.Decision("ent", model.Isolation.POOL, model.Isolation.POOL)
    assert decision.to_run is None
    assert migration_required(decision)["status"] == "False"


def test_a_new_tenant_is_placed_where_its_tier_says() -> None:
    decision = decide.decide(tenant(placement=None), tier("silo"), None, NOW)
    assert (decision.placement, decision.action) == (model.Isolation.SILO, decide.Action.NONE)


def test_a_tier_asking_for_a_silo_starts_a_migration() -> None:
    decision = decide.decide(tenant(), tier("silo"), None, NOW)
    assert decision.action is decide.Action.START
    assert decision.placement is model.Isolation.POOL  # until the migration completes
    assert decision.to_run == migration_state.begin(
        model.Isolation.POOL, model.Isolation.SILO, generation=3, now=NOW, source_server="main"
    )
    assert "its live migration is under way" in migration_required(decision)["message"]


def test_a_running_migration_resumes_where_it_was() -> None:
    copying = stored(Phase.COPYING, generation=2)
    decision = decide.decide(tenant(), tier("silo"), copying, NOW)
    assert decision.action is decide.Action.RESUME
    assert decision.to_run == copying


def test_a_running_migration_resumes_even_if_the_tier_changed_back() -> None:
    copying = stored(Phase.SWITCHING)
    decision = decide.decide(tenant(), tier("pool"), copying, NOW)
    assert (decision.action, decision.to_run) == (decide.Action.RESUME, copying)


def test_a_migration_failed_at_this_generation_stays_failed() -> None:
    failed = stored(Phase.FAILED, generation=3)
    decision = decide.decide(tenant(generation=3), tier("silo"), failed, NOW)
    assert (decision.action, decision.failed) == (decide.Action.NONE, True)
    assert decision.placement is model.Isolation.POOL
    obs = status.Observation(3, decision=decision)
    conds = {c["type"]: c for c in status.conditions_of(obs, [], NOW)}
    assert conds["MigrationFailed"]["status"] == "True"
    assert conds["MigrationFailed"]["message"] == (
        "tables notes differ after the final catch-up; the tenant stays on pool"
    )
    assert "change the Tenant to try again" in conds["MigrationRequired"]["message"]


def test_a_new_generation_retries_a_failed_migration() -> None:
    failed = stored(Phase.FAILED, generation=3)
    decision = decide.decide(tenant(generation=4), tier("silo"), failed, NOW)
    assert (decision.action, decision.failed) == (decide.Action.START, False)
    assert decision.to_run is not None
    assert decision.to_run.generation == 4


def test_a_failure_towards_another_target_is_no_reason_to_wait() -> None:
    failed = stored(Phase.FAILED, generation=3, target="pool")
    decision = decide.decide(tenant(placement="silo"), tier("pool"), failed, NOW)
    assert decision.failed  # the same generation, the same target: not retried
    decision = decide.decide(tenant(placement="pool"), tier("silo"), failed, NOW)
    assert (decision.action, decision.failed) == (decide.Action.START, False)


@pytest.mark.parametrize(
    ("placement", "wanted"),
    [("pool", "bridge"), ("bridge", "pool"), ("bridge", "silo"), ("silo", "bridge")],
)
def test_moves_into_and_out_of_bridge_start_a_migration(placement: str, wanted: str) -> None:
    decision = decide.decide(tenant(placement=placement), tier(wanted), None, NOW)
    assert decision.supported
    assert decision.action is decide.Action.START
    assert decision.to_run is not None
    assert (decision.to_run.source, decision.to_run.target) == (
        model.Isolation(placement),
        model.Isolation(wanted),
    )
    required = migration_required(decision)
    assert (required["status"], required["reason"]) == ("True", "IsolationChanged")
    assert "its live migration is under way" in required["message"]


def test_settle_moves_the_placement_once_completed() -> None:
    decision = decide.decide(tenant(), tier("silo"), None, NOW)
    done = decide.settle(decision, stored(Phase.COMPLETED))
    assert (done.placement, done.failed) == (model.Isolation.SILO, False)
    assert migration_required(done)["status"] == "False"
    failed = decide.settle(decision, stored(Phase.FAILED))
    assert (failed.placement, failed.failed) == (model.Isolation.POOL, True)


def placed(placement: str, at: str | None = None, **wanted: str) -> model.Tenant:
    body: dict[str, Any] = {
        "metadata": {"name": "acme", "generation": 5},
        "spec": {"tier": "ent", "placement": wanted},
        "status": {"placement": placement, **({"server": at} if at else {})},
    }
    return model.Tenant.from_body(body)


SHARDS = ("main", "shard-b", "shard-c")


def test_naming_another_shard_starts_a_same_kind_move() -> None:
    decision = decide.decide(
        placed("pool", "main", server="shard-b"), tier("pool"), None, NOW, pool_shards=SHARDS
    )
    assert decision.action is decide.Action.START
    run = decision.to_run
    assert run is not None
    assert (run.source, run.source_server, run.target, run.target_server) == (
        model.Isolation.POOL,
        "main",
        model.Isolation.POOL,
        "shard-b",
    )
    assert "on shard-b" in migration_required(decision)["message"]
    done = decide.settle(decision, dataclasses.replace(run, phase=Phase.COMPLETED))
    assert (done.placement, done.server) == (model.Isolation.POOL, "shard-b")


def test_the_tenants_isolation_overrides_the_tier_and_stays_on_its_shard() -> None:
    decision = decide.decide(
        placed("pool", "shard-c", isolation="bridge"), tier("pool"), None, NOW, pool_shards=SHARDS
    )
    assert decision.to_run is not None
    assert (decision.to_run.target, decision.to_run.target_server) == (
        model.Isolation.BRIDGE,
        "shard-c",
    )
    out_of_silo = decide.decide(placed("silo", "db:5432"), tier("pool"), None, NOW)
    assert out_of_silo.to_run is not None
    assert out_of_silo.to_run.target_server == "main"


def test_an_unknown_server_is_refused_and_nothing_moves() -> None:
    for tenant_, isolation in (
        (placed("pool", "main", server="shard-z"), "pool"),
        (placed("pool", "main", server="shard-b"), "silo"),  # a shard is no silo server
    ):
        decision = decide.decide(
            tenant_, tier(isolation), None, NOW, pool_shards=SHARDS, silo_servers=("db:5432",)
        )
        assert decision.to_run is None
        required = migration_required(decision)
        assert (required["status"], required["reason"]) == ("True", "UnknownServer")


def test_the_same_server_named_again_moves_nothing_and_silo_to_silo_is_live() -> None:
    same = decide.decide(
        placed("bridge", "shard-b", server="shard-b"), tier("bridge"), None, NOW, pool_shards=SHARDS
    )
    assert same.to_run is None
    assert migration_required(same)["status"] == "False"
    silos = decide.decide(
        placed("silo", "a:5432", server="b:5432"),
        tier("silo"),
        None,
        NOW,
        silo_servers=("a:5432", "b:5432"),
    )
    assert silos.to_run is not None
    assert (silos.to_run.source_server, silos.to_run.target_server) == ("a:5432", "b:5432")
