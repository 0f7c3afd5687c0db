"""Rebalancing under load (issue 15's proof): 30 pool tenants of one Tier placed unevenly over
the local platform's three pool shards (20 on `shard-c` by the Tier, 10 on `shard-b` by name,
none on `main`), continuous writers and readers on three of those that will move, then
`tenantry rebalance --by tenants`: the shards end 10/10/10, every move completed, the writers
saw no error and lost no acknowledged write."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import moving, support
from tests.integration import test_placement_moves as placement_moves

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SHARDS = ("main", "shard-b", "shard-c")
CROWDED, SECOND = 20, 10  # tenants placed on shard-c (by the Tier) and on shard-b (by name)


def writer_on(app: httpx.Client, env: dict[str, str], name: str) -> moving.Writer:
    """A running writer and reader on `name`, whose project already holds `moving.SEEDED`
    notes."""
    headers = support.token_for(env, name)
    project = app.post("/projects", json={"name": "rebalanced"}, headers=headers).json()["id"]
    for number in range(moving.SEEDED):
        made = app.post(f"/projects/{project}/notes", json={"title": f"s{number}"}, headers=headers)
        assert made.status_code == 201, made.text
    running = moving.Writer(app, headers, project)
    running.start()
    return running


def test_rebalancing_thirty_tenants_under_load_ends_balanced_and_loses_nothing(
    api: httpx.Client, app: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> None:
    tier = support.unique("crowded")
    support.make_tier(custom, tier, billable=False, placement={"servers": ["shard-c"]})
    base = support.unique("rebal")
    names = [f"{base}-{number:02d}" for number in range(CROWDED + SECOND)]
    for number, name in enumerate(names):
        pinned = {"placement": {"server": "shard-b"}} if number >= CROWDED else {}
        support.create_tenant(custom, name, tier=tier, **pinned)
    with ThreadPoolExecutor(max_workers=8) as pool:
        placed = list(pool.map(lambda n: support.wait_ready(custom, n, timeout=180), names))
    assert Counter(t["status"]["server"] for t in placed) == {"shard-c": 20, "shard-b": 10}

    # The registry follows the Tenants (the mirror); then the plan is known in full.
    admin_plan = {"by": "tenants", "tier": tier, "dry_run": True, "max_moves": 30}
    admin = support.admin(api, env)
    plan = eventually(
        lambda: (
            found
            if (
                found := api.post("/placement/rebalance", json=admin_plan, headers=admin).json()
            ).get("loads_before")
            == {"main": 0, "shard-b": SECOND, "shard-c": CROWDED}
            else None
        ),
        timeout=60,
        what="the registry holding the 30 tenants where they are",
    )
    assert plan["spread_after"] <= 1
    moved = {move["slug"] for move in plan["moves"]}
    # The planner takes a crowded shard's tenants in name order: the first ones move.
    with ThreadPoolExecutor(max_workers=3) as pool:
        writers = list(pool.map(lambda n: writer_on(app, env, n), names[:3]))
    assert set(names[:3]) <= moved
    for running in writers:
        running.writes_flow()

    done = placement_moves.cli(
        env, "rebalance", "--by", "tenants", "--tier", tier,
        "--max-concurrent", "4", "--max-moves", "30", "--interval", "1",
    )  # fmt: skip

    for running in writers:
        running.writes_flow()  # still served after the moves
        running.finish()
    assert [m["result"] for m in done["moves"]] == ["Completed"] * len(plan["moves"])
    assert done["spread_after"] <= 1
    on = Counter(
        (support.get_tenant(custom, name) or {}).get("status", {}).get("server") for name in names
    )
    assert on == dict.fromkeys(SHARDS, 10)
    for running in writers:
        moving.assert_nothing_lost(app, running)
