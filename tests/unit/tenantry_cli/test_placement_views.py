"""The CLI's rows for moves, servers and rebalancing (tenantry_cli.views), from literal
Tenants and API answers."""

from __future__ import annotations

from typing import Any

from tenantry_cli import views

DONE = {
    "source": "pool",
    "sourceServer": "main",
    "target": "silo",
    "targetServer": "db-2:5432",
    "started": "2026-11-24T10:00:00Z",
    "finished": "2026-11-24T10:00:03Z",
    "result": "Completed",
    "rowsCopied": 120,
    "writeBlockMs": 40,
    "durationMs": 3000,
    "reason": "",
}


def tenant(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "acme"}, "spec": {"tier": "free"}, "status": status}


def test_the_history_then_the_move_under_way() -> None:
    running = {"phase": "Copying", "source": "silo", "target": "pool", "targetServer": "shard-b"}
    rows = views.move_rows(tenant(moves=[DONE], migration=running))
    assert rows[0] == {
        "started": "2026-11-24T10:00:00Z",
        "source": "pool",
        "source_server": "main",
        "target": "silo",
        "target_server": "db-2:5432",
        "result": "Completed",
        "rows_copied": 120,
        "write_block_ms": 40,
        "duration_ms": 3000,
        "reason": "",
    }
    assert (rows[1]["result"], rows[1]["target_server"]) == ("Copying", "shard-b")
    finished = views.move_rows(tenant(moves=[DONE], migration={"phase": "Completed"}))
    assert len(finished) == 1
    assert views.move_rows(tenant()) == []


def test_servers_placement_and_spread() -> None:
    server = {"name": "shard-b", "kind": "pool", "tenants": 3, "rows": 90, "host": "h", "port": 1}
    assert views.server_row(server) == {**server, "database": None}
    assert views.placement_of(tenant(placement="pool", server="shard-b")) == {
        "placement": "pool",
        "server": "shard-b",
    }
    assert views.spread({"main": 7, "shard-b": 2, "shard-c": 4}) == 5
    assert views.spread({}) == 0
