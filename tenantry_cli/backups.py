"""`tenantry backups` and `tenantry restore`: a tenant's scheduled backups (name, time, rows,
size), newest last, and a live restore to one of them, followed until it completed or failed;
through the control-plane API as a platform admin (`GET /tenants/{id}/backups`, `POST
/tenants/{id}/restores`). Registered on the `tenantry` app by tenantry_cli.main.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import rich
import typer

from tenantry_cli import api, cluster, views
from tenantry_core import resources

OutputOpt = Annotated[views.Output, typer.Option("--output", "-o", help="table or json")]
BACKUP_COLUMNS = ("name", "time", "rows", "size_bytes")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def tenant_id(name: str) -> str:
    """The registry id of the Tenant `name` (its label), or a failure saying why not."""
    try:
        tenant = cluster.get_tenant(name)
    except cluster.NoSuchTenant as exc:
        raise _fail(str(exc)) from exc
    found = ((tenant.get("metadata") or {}).get("labels") or {}).get(resources.LABEL_TENANT_ID)
    if not found:
        raise _fail(f"Tenant {name!r} has no {resources.LABEL_TENANT_ID} label yet")
    return str(found)


def _emit(output: views.Output, data: Any, shown: Any) -> None:
    if output == views.Output.JSON:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        rich.print(shown)


def backups(ctx: typer.Context, name: str, output: OutputOpt = views.Output.TABLE) -> None:
    """The tenant's scheduled backups kept, newest last."""
    try:
        found = ctx.obj.api().get(f"/tenants/{tenant_id(name)}/backups")["items"]
    except api.ApiError as exc:
        raise _fail(str(exc)) from exc
    _emit(output, found, views.grid(f"Backups of {name}", BACKUP_COLUMNS, found))


def restore(
    ctx: typer.Context,
    name: str,
    backup: str,
    timeout: Annotated[float, typer.Option(help="seconds to follow the restore")] = 300.0,
    output: OutputOpt = views.Output.TABLE,
) -> None:
    """Restore the tenant live to one of its backups (as a platform admin: POST
    /tenants/{id}/restores), then follow it until it completed or failed."""
    client, path = ctx.obj.api(), f"/tenants/{tenant_id(name)}/restores"
    try:
        asked = client.post(path, {"backup": backup})
        requested = str((asked.get("requested") or {}).get("requested", ""))
        deadline = time.monotonic() + timeout
        while True:
            found = client.get(path)
            current = found.get("current") or {}
            started = found.get("backup") == backup and not found.get("running")
            if started and current.get("phase") in views.FINAL_MIGRATION_PHASES:
                break
            if time.monotonic() > deadline:
                raise _fail(f"the restore did not end within {timeout:.0f}s")
            time.sleep(1.0)
    except api.ApiError as exc:
        raise _fail(str(exc)) from exc
    result = {
        "name": name,
        "backup": backup,
        "requested": requested,
        "result": current.get("phase"),
        "rows": current.get("rows_copied"),
        "write_block_ms": current.get("write_block_ms"),
        "message": current.get("message"),
    }
    _emit(output, result, views.pairs(f"Restored {name}", result))
    if result["result"] != "Completed":
        raise typer.Exit(1)
