"""`tenantry flags ...`: feature flags, per-tenant overrides and rollout rings, through the
control-plane API as a platform admin (every change is audited there).

A TENANT is a Tenant's name (its registry id is read from the cluster's label) or the id itself.
`set` changes only the options given and keeps the flag's other settings. Mounted by
tenantry_cli.main.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import rich
import typer

from tenantry_cli import api, cluster, views
from tenantry_core import resources

app = typer.Typer(help="Feature flags, per-tenant overrides and rollout rings.")
FLAG_COLUMNS = ("key", "enabled", "ring", "percentage", "tenants", "description")
OVERRIDE_COLUMNS = ("feature", "enabled", "reason", "created_at")
OutputOpt = Annotated[views.Output, typer.Option("--output", "-o", help="table or json")]


def _client(ctx: typer.Context) -> api.Api:
    client: api.Api = ctx.obj.api()
    return client


def _emit(output: views.Output, data: Any, shown: Any) -> None:
    if output == views.Output.JSON:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        rich.print(shown)


def _call(action: Any, *args: Any) -> Any:
    try:
        return action(*args)
    except (api.ApiError, cluster.NoSuchTenant) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def tenant_id(name: str) -> str:
    """The registry id of a tenant named by id or by its Tenant's name."""
    try:
        return str(uuid.UUID(name))
    except ValueError:
        pass
    labels = (cluster.get_tenant(name).get("metadata") or {}).get("labels") or {}
    found = labels.get(resources.LABEL_TENANT_ID)
    if not found:
        raise api.ApiError(f"{name} is not in the registry (made with kubectl): no overrides")
    return str(found)


def flag_row(flag: dict[str, Any]) -> dict[str, Any]:
    return {**flag, "tenants": len(flag.get("tenants") or [])}


@app.command("list")
def list_flags(ctx: typer.Context, output: OutputOpt = views.Output.TABLE) -> None:
    """Every flag and its targeting."""
    found = _call(_client(ctx).get, "/flags")
    _emit(output, found, views.grid("Flags", FLAG_COLUMNS, [flag_row(f) for f in found]))


@app.command("set")
def set_flag(
    ctx: typer.Context,
    key: str,
    percentage: Annotated[int | None, typer.Option(min=0, max=100, help="% of tenants")] = None,
    ring: Annotated[str | None, typer.Option(help="internal, beta, all or none")] = None,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", help="a tenant it always reaches (repeat)")
    ] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="switch")] = None,
    description: Annotated[str | None, typer.Option(help="what the flag is for")] = None,
    output: OutputOpt = views.Output.TABLE,
) -> None:
    """Create the flag or change the given settings (the others are kept)."""
    client = _client(ctx)
    try:
        current = client.get(f"/flags/{key}")
    except api.ApiError as exc:
        if " 404 " not in str(exc):
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        current = {}
    body = {
        "description": current.get("description", ""),
        "enabled": current.get("enabled", True),
        "tenants": current.get("tenants", []),
        "ring": current.get("ring"),
        "percentage": current.get("percentage", 0),
    }
    if percentage is not None:
        body["percentage"] = percentage
    if ring is not None:
        body["ring"] = None if ring == "none" else ring
    if tenant is not None:
        body["tenants"] = [_call(tenant_id, t) for t in tenant]
    if enabled is not None:
        body["enabled"] = enabled
    if description is not None:
        body["description"] = description
    saved = _call(client.put, f"/flags/{key}", body)
    _emit(output, saved, views.pairs(f"Flag {key}", flag_row(saved)))


@app.command("delete")
def delete_flag(ctx: typer.Context, key: str) -> None:
    """Remove the flag: the plans alone decide the feature again."""
    _call(_client(ctx).delete, f"/flags/{key}")
    typer.echo(f"flag {key} deleted")


def _override(ctx: typer.Context, tenant: str, feature: str, enabled: bool, reason: str) -> None:
    path = f"/tenants/{_call(tenant_id, tenant)}/overrides/{feature}"
    saved = _call(_client(ctx).put, path, {"enabled": enabled, "reason": reason})
    typer.echo(f"{feature} {'granted to' if saved['enabled'] else 'removed from'} {tenant}")


Reason = Annotated[str, typer.Option(help="why (kept in the audit log)")]


@app.command()
def grant(ctx: typer.Context, tenant: str, feature: str, reason: Reason = "") -> None:
    """Give the tenant the feature, whatever its plan and the flags say."""
    _override(ctx, tenant, feature, True, reason)


@app.command()
def revoke(ctx: typer.Context, tenant: str, feature: str, reason: Reason = "") -> None:
    """Take the feature from the tenant, whatever its plan and the flags say."""
    _override(ctx, tenant, feature, False, reason)


@app.command()
def clear(ctx: typer.Context, tenant: str, feature: str) -> None:
    """Remove the tenant's override: its plan and the flags decide again."""
    _call(_client(ctx).delete, f"/tenants/{_call(tenant_id, tenant)}/overrides/{feature}")
    typer.echo(f"override of {feature} for {tenant} removed")


@app.command()
def overrides(ctx: typer.Context, tenant: str, output: OutputOpt = views.Output.TABLE) -> None:
    """The tenant's overrides."""
    found = _call(_client(ctx).get, f"/tenants/{_call(tenant_id, tenant)}/overrides")
    _emit(output, found, views.grid(f"Overrides of {tenant}", OVERRIDE_COLUMNS, found))


@app.command()
def ring(ctx: typer.Context, tenant: str, name: str) -> None:
    """Put the tenant in a rollout ring: internal, beta or all."""
    saved = _call(_client(ctx).put, f"/tenants/{_call(tenant_id, tenant)}/ring", {"ring": name})
    typer.echo(f"{tenant} is in ring {saved['ring']}")
