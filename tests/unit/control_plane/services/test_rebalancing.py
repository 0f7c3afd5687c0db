"""The rebalancing planner, with literal shards and tenants: it evens out loads greedily, best
move first, never moves a tenant already moving or one twice, stops at the cap or when no move
shrinks the spread, and gives the same plan for the same input."""

from __future__ import annotations

from control_plane.services import rebalancing

Placed = rebalancing.Placed
Move = rebalancing.Move


def test_three_shards_thirty_tenants_by_count_end_balanced() -> None:
    tenants = [Placed(f"t{i:02}", "main", 1) for i in range(30)]
    planned = rebalancing.plan(
        shards=["main", "shard-b", "shard-c"], tenants=tenants, max_moves=100
    )
    assert planned.before == {"main": 30, "shard-b": 0, "shard-c": 0}
    assert planned.after == {"main": 10, "shard-b": 10, "shard-c": 10}
    assert len(planned.moves) == 20
    assert {m.source for m in planned.moves} == {"main"}
    assert sorted(m.tenant_key for m in planned.moves) == [f"t{i:02}" for i in range(20)]


def test_the_move_that_shrinks_the_spread_most_goes_first() -> None:
    tenants = [
        Placed("big", "main", 60),
        Placed("mid", "main", 30),
        Placed("small", "main", 10),
        Placed("other", "shard-b", 20),
    ]
    planned = rebalancing.plan(shards=["main", "shard-b"], tenants=tenants, max_moves=5)
    # 100 vs 20: moving `mid` leaves 70/50 (spread 20), `big` 40/80 (40), `small` 90/30 (60);
    # then `small` evens 70/50 out (60/60), and nothing is left to gain.
    assert planned.moves == (
        Move("mid", "main", "shard-b", 30),
        Move("small", "main", "shard-b", 10),
    )
    assert planned.after == {"main": 60, "shard-b": 60}
    assert rebalancing.Plan.spread(planned.before) == 80
    assert rebalancing.Plan.spread(planned.after) == 0


def test_a_tenant_already_moving_is_never_planned() -> None:
    tenants = [Placed("busy", "main", 50, moving=True), Placed("free", "main", 10)]
    planned = rebalancing.plan(shards=["main", "shard-b"], tenants=tenants, max_moves=5)
    assert planned.moves == (Move("free", "main", "shard-b", 10),)
    assert planned.after == {"main": 50, "shard-b": 10}


def test_the_cap_bounds_the_moves_of_a_run() -> None:
    tenants = [Placed(f"t{i}", "main", 1) for i in range(8)]
    planned = rebalancing.plan(shards=["main", "shard-b"], tenants=tenants, max_moves=2)
    assert [m.tenant_key for m in planned.moves] == ["t0", "t1"]
    assert planned.after == {"main": 6, "shard-b": 2}


def test_balanced_shards_or_a_single_shard_plan_nothing() -> None:
    even = [Placed("a", "main", 5), Placed("b", "shard-b", 5)]
    assert rebalancing.plan(shards=["main", "shard-b"], tenants=even, max_moves=5).moves == ()
    alone = [Placed("a", "main", 5), Placed("b", "main", 5)]
    assert rebalancing.plan(shards=["main"], tenants=alone, max_moves=5).moves == ()
    assert rebalancing.plan(shards=[], tenants=[], max_moves=5).after == {}


def test_a_move_that_would_only_swap_the_imbalance_is_not_made() -> None:
    # 10 vs 0: moving the one tenant gives 0 vs 10, the same spread.
    planned = rebalancing.plan(
        shards=["main", "shard-b"], tenants=[Placed("only", "main", 10)], max_moves=5
    )
    assert planned.moves == ()


def test_tenants_on_shards_not_planned_over_are_left_alone() -> None:
    tenants = [Placed("gone", "old-shard", 100), Placed("a", "main", 4), Placed("b", "main", 4)]
    planned = rebalancing.plan(shards=["main", "shard-b"], tenants=tenants, max_moves=5)
    assert planned.before == {"main": 8, "shard-b": 0}
    assert planned.moves == (Move("a", "main", "shard-b", 4),)


def test_the_same_input_gives_the_same_plan_whatever_its_order() -> None:
    tenants = [Placed(f"t{i}", ["main", "shard-b"][i % 2], i * 3 % 7 + 1) for i in range(12)]
    shards = ["main", "shard-b", "shard-c"]
    first = rebalancing.plan(shards=shards, tenants=tenants, max_moves=10)
    again = rebalancing.plan(shards=shards[::-1], tenants=tenants[::-1], max_moves=10)
    assert first.moves == again.moves
    assert rebalancing.Plan.spread(first.after) <= 1
