"""The `tenantry` command ([project.scripts]): tenants, describe, watch, move, suspend, resume
and the outbox's pending entries and dead letters, each with `--output json`; feature flags
under `tenantry flags` (tenantry_cli.flags); moves, servers and rebalance
(tenantry_cli.placement); backups and restore (tenantry_cli.backups).

Tenants are read from the cluster (`tenantry_cli.cluster`). A tenant the control plane created
(it carries the `tenantry.dev/tenant-id` label) is owned by the registry, so its tier and
suspension change through the control-plane API (`tenantry_cli.api`), which applies them;
a Tenant made with kubectl is patched in the cluster. Rows and tables come from
`tenantry_cli.views`.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import time
from dataclasses import dataclass
from typing import Annotated, Any

import rich
import typer
from rich import console, live

from tenantry_cli import api, backups, cluster, flags, placement, views
from tenantry_core import resources

app = typer.Typer(help="Operate Tenantry: tenants in the cluster, the control plane's outbox.")
outbox_app = typer.Typer(help="The outbox's pending entries and dead letters.")
app.add_typer(outbox_app, name="outbox")
app.add_typer(flags.app, name="flags")
app.command()(placement.moves)
app.command()(placement.servers)
app.command()(placement.rebalance)
app.command()(backups.backups)
app.command()(backups.restore)


Output = views.Output


class Isolation(enum.StrEnum):
    POOL = "pool"
    BRIDGE = "bridge"
    SILO = "silo"


class OutboxStates(enum.StrEnum):
    PENDING = "pending"
    DEAD = "dead"
    ALL = "all"


OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table or json")]


@dataclass
class Context:
    api_url: str
    token: str | None

    def api(self) -> api.Api:
        return api.Api(
            self.api_url,
            token=self.token,
            email=os.environ.get("TENANTRY_ADMIN_EMAIL"),
            password=os.environ.get("TENANTRY_ADMIN_PASSWORD"),
        )


@app.callback()
def main(
    ctx: typer.Context,
    api_url: Annotated[
        str,
        typer.Option(
            envvar="TENANTRY_API_URL",
            help="The control plane (default: $API_URL, as `make dev` exports it)",
        ),
    ] = os.environ.get("API_URL", "http://127.0.0.1:8000"),
    token: Annotated[
        str | None, typer.Option(envvar="TENANTRY_TOKEN", help="A platform admin's token")
    ] = None,
) -> None:
    ctx.obj = Context(api_url, token)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _emit(output: Output, data: Any, shown: Any) -> None:
    if output == Output.JSON:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        rich.print(shown)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _tenant(name: str) -> dict[str, Any]:
    try:
        return cluster.get_tenant(name)
    except cluster.NoSuchTenant as exc:
        raise _fail(str(exc)) from exc


def _tenant_id(tenant: dict[str, Any]) -> str | None:
    labels = (tenant.get("metadata") or {}).get("labels") or {}
    value = labels.get(resources.LABEL_TENANT_ID)
    return str(value) if value else None


@app.command()
def tenants(output: OutputOpt = Output.TABLE) -> None:
    """Every Tenant: tier, placement, phase, Ready and age."""
    rows = views.tenant_rows(cluster.list_tenants(), _now())
    _emit(output, rows, views.grid("Tenants", views.TENANT_COLUMNS, rows))


@app.command()
def describe(ctx: typer.Context, name: str, output: OutputOpt = Output.TABLE) -> None:
    """One tenant: conditions, Events, where its data lives, its last migration and billing."""
    tenant = _tenant(name)
    billing, note = None, None
    tenant_id = _tenant_id(tenant)
    if tenant_id:
        try:
            billing = ctx.obj.api().get(f"/tenants/{tenant_id}")
        except api.ApiError as exc:
            note = f"billing state unavailable: {exc}"
    found = views.description(tenant, cluster.events(name), billing, _now())
    if output == Output.JSON:
        _emit(output, found, None)
        return
    summary = {k: found[k] for k in (*views.TENANT_COLUMNS, "tenant_id", "suspended", "namespace")}
    shown: list[Any] = [
        views.pairs(f"Tenant {name}", summary),
        views.pairs("Data", found["data"]),
        views.pairs("Last migration", found["migration"] or {"phase": None}),
        views.pairs("Billing", found["billing"] or {"state": note or "not in the registry"}),
        views.grid("Conditions", ("type", "status", "reason", "message"), found["conditions"]),
        views.grid("Events", ("type", "reason", "age", "count", "message"), found["events"]),
    ]
    for part in shown:
        rich.print(part)


@app.command()
def watch(
    output: OutputOpt = Output.TABLE,
    interval: Annotated[float, typer.Option(min=0.2, help="seconds between refreshes")] = 2.0,
) -> None:
    """The tenants table, refreshed every `interval` seconds until Ctrl-C (json: a line each)."""
    try:
        if output == Output.JSON:
            while True:
                typer.echo(json.dumps(views.tenant_rows(cluster.list_tenants(), _now())))
                time.sleep(interval)
        with live.Live(console=console.Console(), auto_refresh=False) as screen:
            while True:
                rows = views.tenant_rows(cluster.list_tenants(), _now())
                screen.update(views.grid("Tenants", views.TENANT_COLUMNS, rows), refresh=True)
                time.sleep(interval)
    except KeyboardInterrupt:
        return


@dataclass(frozen=True)
class Goal:
    """What a move asks of the Tenant's spec: a tier, or a placement (isolation, server)."""

    tier: str | None = None
    isolation: str | None = None
    server: str | None = None

    def asked(self, spec: dict[str, Any]) -> bool:
        if self.tier is not None:
            return spec.get("tier") == self.tier
        wanted = spec.get("placement") or {}
        return wanted.get("isolation") == self.isolation and (
            self.server is None or wanted.get("server") == self.server
        )

    def __str__(self) -> str:
        if self.tier is not None:
            return f"tier {self.tier}"
        return f"{self.isolation}" + (f" on {self.server}" if self.server else "")


def _follow(
    name: str, goal: Goal, before: int, timeout: float, output: Output, give_up_after: float
) -> dict[str, Any]:
    """Wait for the Tenant's spec to ask for `goal` (a generation after `before`), then follow
    the migration's phases until the move ends Ready or Failed. A failed step is retried by the
    operator, so it ends the move only once it has lasted `give_up_after` seconds."""
    deadline, generation = time.monotonic() + timeout, 0
    phases: list[str] = []
    failing_since: float | None = None
    while time.monotonic() < deadline:
        tenant = _tenant(name)
        meta, status = tenant["metadata"], tenant.get("status") or {}
        if not generation and goal.asked(tenant["spec"]) and meta["generation"] > before:
            generation = meta["generation"]
        phase = (status.get("migration") or {}).get("phase")
        if generation and phase and (not phases or phases[-1] != phase):
            phases.append(phase)
            if output == Output.TABLE:
                typer.echo(f"migration: {phase}")
        result = views.migration_finished(tenant, generation) if generation else None
        why = views.failing(tenant) if generation else None
        if why is None:
            failing_since = None
        elif failing_since is None:
            failing_since = time.monotonic()
            if output == Output.TABLE:
                typer.echo(f"failing, retried by the operator: {why}")
        elif time.monotonic() - failing_since >= give_up_after:
            result = "Failed"
        if result:
            return {
                "name": name,
                "tier": tenant["spec"].get("tier"),
                "result": result,
                **views.placement_of(tenant),
                "phases": phases,
                "reason": None
                if result == "Ready"
                else why or views.condition(tenant, "MigrationFailed").get("message"),
                "migration": status.get("migration"),
            }
        time.sleep(0.5)
    raise _fail(f"{name} did not finish moving to {goal} within {timeout:.0f}s")


@app.command()
def move(
    ctx: typer.Context,
    name: str,
    to: Annotated[
        Isolation | None, typer.Option("--to", help="the isolation model to move to")
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="the server to move to (default: the current one)")
    ] = None,
    tier: Annotated[str | None, typer.Option(help="the Tier to move to")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to follow the migration")] = 300.0,
    give_up_after: Annotated[
        float, typer.Option(help="seconds a failed step may last before the move counts as failed")
    ] = 60.0,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Move the tenant live: to another isolation model and/or server (`--to`, `--server`, as
    a platform admin: POST /tenants/{id}/moves), or to another tier (`--tier`); then follow its
    migration until Ready or Failed."""
    if (tier is None) == (to is None and server is None):
        raise _fail("give either --tier, or --to (and --server)")
    tenant = _tenant(name)
    before = int(tenant["metadata"]["generation"])
    tenant_id = _tenant_id(tenant)
    if tier is not None:
        goal = Goal(tier=tier)
        if tenant["spec"].get("tier") == tier:
            raise _fail(f"{name} is already on tier {tier}")
    else:
        isolation = to.value if to else (tenant.get("status") or {}).get("placement")
        goal = Goal(isolation=isolation, server=server)
    try:
        if tier is not None and tenant_id:
            ctx.obj.api().patch(f"/tenants/{tenant_id}", {"tier": tier})
        elif tier is not None:
            cluster.patch_spec(name, {"tier": tier})
        elif tenant_id:
            body = {"isolation": goal.isolation, **({"server": server} if server else {})}
            ctx.obj.api().post(f"/tenants/{tenant_id}/moves", body)
        else:
            # A merge patch: an unset server is removed (null), not kept from an earlier move.
            cluster.patch_spec(name, {"placement": {"isolation": goal.isolation, "server": server}})
    except api.ApiError as exc:
        raise _fail(str(exc)) from exc
    result = _follow(name, goal, before, timeout, output, give_up_after)
    _emit(output, result, views.pairs(f"Moved {name}", {**result, "migration": None}))
    if result["result"] != "Ready":
        raise typer.Exit(1)


def _set_suspended(ctx: typer.Context, name: str, suspended: bool, output: Output) -> None:
    tenant = _tenant(name)
    tenant_id = _tenant_id(tenant)
    try:
        if tenant_id:
            verb = "suspend" if suspended else "resume"
            ctx.obj.api().post(f"/tenants/{tenant_id}/{verb}")
        else:
            cluster.patch_spec(name, {"suspended": suspended})
    except api.ApiError as exc:
        raise _fail(str(exc)) from exc
    done = {"name": name, "suspended": suspended, "via": "api" if tenant_id else "cluster"}
    _emit(output, done, views.pairs(name, done))


@app.command()
def suspend(ctx: typer.Context, name: str, output: OutputOpt = Output.TABLE) -> None:
    """Stop the tenant's workload and refuse its app traffic; its data stays."""
    _set_suspended(ctx, name, True, output)


@app.command()
def resume(ctx: typer.Context, name: str, output: OutputOpt = Output.TABLE) -> None:
    """Start a suspended tenant again."""
    _set_suspended(ctx, name, False, output)


@outbox_app.callback(invoke_without_command=True)
def outbox(
    ctx: typer.Context,
    state: Annotated[OutboxStates, typer.Option(help="pending, dead or all")] = OutboxStates.ALL,
    output: OutputOpt = Output.TABLE,
) -> None:
    """The control plane's pending outbox entries and dead letters."""
    if ctx.invoked_subcommand:
        return
    states = ["pending", "dead"] if state == OutboxStates.ALL else [str(state)]
    rows: list[dict[str, Any]] = []
    try:
        client = ctx.obj.api()
        for one in states:
            found = client.pages("/outbox", state=one, limit=500)
            rows.extend(views.outbox_row(e, one, _now()) for e in found)
    except api.ApiError as exc:
        raise _fail(str(exc)) from exc
    _emit(output, rows, views.grid("Outbox", views.OUTBOX_COLUMNS, rows))


@outbox_app.command("retry")
def retry(ctx: typer.Context, entry_id: int, output: OutputOpt = Output.TABLE) -> None:
    """Put a dead letter back in the queue (audited)."""
    try:
        entry = ctx.obj.api().post(f"/outbox/{entry_id}/retry")
    except api.ApiError as exc:
        raise _fail(str(exc)) from exc
    _emit(output, entry, views.pairs(f"Outbox entry {entry_id}", entry))
