"""`tenantry moves`, `tenantry servers` and `tenantry rebalance`: a tenant's move history (read
from its Tenant in the cluster), the servers tenants are placed on, and rebalancing the pool
shards, through the control-plane API as a platform admin. Registered on the `tenantry` app by
tenantry_cli.main (`tenantry move` itself is there).

Rebalancing is executed here: each round asks the API to plan afresh and set going as many moves
as keep `--max-concurrent` running, then waits, until nothing is left to move, `--max-moves`
were set going, or `--timeout` passes. A dry run prints the plan and moves nothing.
"""

from __future__ import annotations

import enum
import json
import time
from typing import Annotated, Any

import rich
import typer

from tenantry_cli import api, cluster, views

OutputOpt = Annotated[views.Output, typer.Option("--output", "-o", help="table or json")]


class By(enum.StrEnum):
    ROWS = "rows"
    TENANTS = "tenants"
    REQUESTS = "requests"


def _emit(output: views.Output, data: Any, shown: Any) -> None:
    if output == views.Output.JSON:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        rich.print(shown)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def moves(name: str, output: OutputOpt = views.Output.TABLE) -> None:
    """The tenant's moves, oldest first (at most the last 10), and the one under way."""
    try:
        tenant = cluster.get_tenant(name)
    except cluster.NoSuchTenant as exc:
        raise _fail(exc) from exc
    rows = views.move_rows(tenant)
    _emit(output, rows, views.grid(f"Moves of {name}", views.MOVE_COLUMNS, rows))


def servers(ctx: typer.Context, output: OutputOpt = views.Output.TABLE) -> None:
    """The servers tenants are placed on: pool shards and silo servers, with their tenants and
    tenant rows (the operator refreshes them about once a minute)."""
    try:
        found = ctx.obj.api().get("/placement/servers")["items"]
    except api.ApiError as exc:
        raise _fail(exc) from exc
    rows = [views.server_row(s) for s in found]
    _emit(output, rows, views.grid("Servers", views.SERVER_COLUMNS, rows))


def _round(client: api.Api, request: dict[str, Any]) -> dict[str, Any]:
    plan: dict[str, Any] = client.post("/placement/rebalance", request)
    return plan


def rebalance(
    ctx: typer.Context,
    by: Annotated[By, typer.Option(help="what to even out")] = By.ROWS,
    tier: Annotated[str | None, typer.Option(help="only the tenants of this tier")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan only")] = False,
    max_concurrent: Annotated[int, typer.Option(min=1, max=10, help="moves at once")] = 2,
    max_moves: Annotated[int, typer.Option(min=1, max=100, help="moves in this run")] = 10,
    timeout: Annotated[float, typer.Option(help="seconds to follow the moves")] = 1800.0,
    interval: Annotated[float, typer.Option(min=0.2, help="seconds between rounds")] = 2.0,
    output: OutputOpt = views.Output.TABLE,
) -> None:
    """Even out the pool shards by stored rows, tenant count or requests: plan, then move a few
    tenants at a time, live, until balanced (`--dry-run`: print the plan)."""
    client: api.Api = ctx.obj.api()
    request: dict[str, Any] = {"by": by.value, "tier": tier, "max_concurrent": max_concurrent}
    try:
        first = _round(client, {**request, "dry_run": True, "max_moves": max_moves})
        if dry_run:
            shown = views.grid(
                f"Plan by {by} (spread {first['spread_before']} → {first['spread_after']})",
                views.PLAN_COLUMNS,
                first["moves"],
            )
            _emit(output, first, shown)
            return
        started: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = max_moves - len(started)
            plan = _round(client, {**request, "dry_run": left == 0, "max_moves": max(left, 1)})
            for planned in plan["moves"]:
                if planned["started"]:
                    started.append(planned)
                    if output == views.Output.TABLE:
                        typer.echo(
                            f"moving {planned['slug']}: {planned['source_server']} → "
                            f"{planned['target_server']}"
                        )
            if plan["running"] == 0 and (left == 0 or not plan["moves"]):
                break
            time.sleep(interval)
        else:
            typer.echo(f"error: the moves did not end within {timeout:.0f}s", err=True)
            raise typer.Exit(1)
        last = _round(client, {**request, "dry_run": True, "max_moves": 1})
        results = [_result(client, planned) for planned in started]
    except api.ApiError as exc:
        raise _fail(exc) from exc
    done = {
        "by": by.value,
        "loads_before": first["loads_before"],
        "loads_after": last["loads_before"],
        "spread_before": first["spread_before"],
        "spread_after": views.spread(last["loads_before"]),
        "moves": results,
    }
    _emit(output, done, views.grid("Rebalanced", views.REBALANCED_COLUMNS, results))
    if any(r["result"] != "Completed" for r in results):
        raise typer.Exit(1)


def _result(client: api.Api, planned: dict[str, Any]) -> dict[str, Any]:
    """How a move set going ended: the last entry of the tenant's history to its target."""
    found = client.get(f"/tenants/{planned['tenant_id']}/moves")
    ended = [m for m in found["history"] if m.get("target_server") == planned["target_server"]]
    return {
        "slug": planned["slug"],
        "source_server": planned["source_server"],
        "target_server": planned["target_server"],
        "result": ended[-1]["result"] if ended else "Unknown",
        "server": found["server"],
    }
