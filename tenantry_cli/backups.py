"""`tenantry backups`: a tenant's scheduled backups (name, time, rows, size), newest last,
through the control-plane API as a platform admin (`GET /tenants/{id}/backups`). Registered on
the `tenantry` app by tenantry_cli.main.
"""

from __future__ import annotations

import json
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
