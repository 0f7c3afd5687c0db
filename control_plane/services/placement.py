"""Placement use cases for platform admins: move a tenant to another isolation model or server,
read its moves, list the servers, and rebalance the pool shards.

A move is asked for, never carried out, here: the registry records the placement wanted
(`placement_request`), audited, and the outbox applies it as the Tenant's `spec.placement`
(uid-bound, like every change the control plane makes); the operator then moves the data live
and reports in status, which workers.mirror brings back (`server`, `migration`, `moves`). The
target is checked against the operator's servers catalog (`tenantry.servers`, read through
integrations.app_db). Rebalancing plans with services.rebalancing and sets going at most
`max_concurrent` moves at a time; the caller (the `tenantry rebalance` command) calls again
once they finished, until nothing is left to move. Used by api.routes.placement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models
from control_plane import schemas_placement as schemas
from control_plane.integrations import app_db
from control_plane.services import audit, errors, rebalancing
from tenantry_core import enums

HOME_SHARD = "main"  # the pool database that holds the routing catalog (the contract)
POOLED = (enums.Isolation.POOL.value, enums.Isolation.BRIDGE.value)
FINISHED = {enums.MigrationPhase.COMPLETED.value, enums.MigrationPhase.FAILED.value}
ServersOf = Callable[[], Sequence[app_db.Server]]


def kind_of(isolation: str) -> str:
    """The kind of server an isolation model lives on: silo servers, or pool shards."""
    return "silo" if isolation == enums.Isolation.SILO.value else "pool"


def server_of(tenant: models.Tenant) -> str | None:
    """The server the tenant's data is on (a pooled tenant the operator named none for is on
    the home shard)."""
    if tenant.server:
        return tenant.server
    return HOME_SHARD if tenant.placement in POOLED else None


def _condition(tenant: models.Tenant, kind: str) -> dict[str, Any]:
    return next((c for c in tenant.conditions or [] if c.get("type") == kind), {})


def wanted_isolation(tenant: models.Tenant) -> str | None:
    """The isolation the placement asked for names; a server named alone (as a Tenant made with
    kubectl may) keeps the tenant's isolation."""
    return (tenant.placement_request or {}).get("isolation") or tenant.placement


def moving(tenant: models.Tenant) -> bool:
    """Whether a move is under way: one running, or one asked for that has neither started nor
    ended (failed, or refused for an unknown server) yet."""
    last = tenant.migration or {}
    if last.get("phase") and last["phase"] not in FINISHED:
        return True
    wanted = tenant.placement_request
    if not wanted or tenant.placement is None:
        return False
    server = wanted.get("server")
    isolation = wanted_isolation(tenant)
    if isolation == tenant.placement and server in (None, server_of(tenant)):
        return False  # there already
    failed = (
        last.get("phase") == enums.MigrationPhase.FAILED.value
        and last.get("target") == isolation
        and server in (None, last.get("targetServer"))
    )
    refused = _condition(tenant, "MigrationRequired").get("reason") == "UnknownServer"
    return not (failed or refused)


def check_target(
    *,
    placement: str | None,
    server: str | None,
    isolation: str,
    target_server: str | None,
    servers: ServersOf,
) -> None:
    """Refuse a target that does not exist, is of the wrong kind, or is where the tenant is."""
    if placement is None:
        raise errors.Conflict("Not placed yet", "the tenant has no placement yet; try later")
    if target_server is not None:
        try:
            catalog = list(servers())
        except app_db.ServersUnavailable as exc:
            raise errors.Unavailable(
                "Servers unavailable", "the servers catalog cannot be read now", retry_after=5
            ) from exc
        kind = kind_of(isolation)
        of_kind = [s.name for s in catalog if s.kind == kind]
        found = next((s for s in catalog if s.name == target_server), None)
        if found is None or found.kind != kind:
            why = "unknown server" if found is None else f"not a {kind} server"
            raise errors.InvalidInput(
                "Invalid server",
                f"{target_server!r} is {why}: {isolation} tenants live on {kind} servers",
                field="server",
                reason=why,
                allowed=of_kind,
            )
    if isolation == placement and target_server in (None, server):
        where = f"{placement} on {server}" if server else placement
        raise errors.Conflict("Nothing to move", f"the tenant is already {where}")


def request_move(
    *,
    session: Session,
    ctx: audit.Context,
    tenant: models.Tenant,
    isolation: str,
    server: str | None,
    servers: ServersOf = app_db.servers,
    why: str = "requested",
) -> models.Tenant:
    """Ask for the tenant to be moved (audited; the outbox applies it to its Tenant)."""
    if tenant.lifecycle != models.Lifecycle.ACTIVE:
        raise errors.Conflict("Tenant closing", f"the tenant is {tenant.lifecycle}")
    if moving(tenant):
        raise errors.Conflict(
            "Move in progress", "a move of this tenant is under way; wait for it to end"
        )
    check_target(
        placement=tenant.placement,
        server=server_of(tenant),
        isolation=isolation,
        target_server=server,
        servers=servers,
    )
    wanted = {"isolation": isolation, **({"server": server} if server else {})}
    audit.record(
        session=session,
        ctx=ctx,
        action="tenant.move",
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        before={"placement": tenant.placement, "server": server_of(tenant)},
        after={"placement": isolation, "server": server, "why": why},
    )
    tenant.placement_request = wanted
    tenant.updated_at = dt.datetime.now(dt.UTC)
    session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.APPLY_TENANT))
    session.commit()
    return tenant


def moves(tenant: models.Tenant) -> schemas.MovesPublic:
    """The tenant's moves as mirrored from its Tenant."""
    wanted = tenant.placement_request
    return schemas.MovesPublic(
        tenant_id=tenant.id,
        slug=tenant.tenant_key,
        placement=tenant.placement,
        server=server_of(tenant),
        requested=schemas.MoveTarget.model_validate(wanted) if wanted else None,
        running=moving(tenant),
        current=schemas.MigrationPublic.from_status(tenant.migration) if tenant.migration else None,
        history=[schemas.MovePublic.from_status(m) for m in tenant.moves or []],
    )


def list_servers(*, servers: ServersOf = app_db.servers) -> schemas.ServerList:
    try:
        found = servers()
    except app_db.ServersUnavailable as exc:
        raise errors.Unavailable(
            "Servers unavailable", "the servers catalog cannot be read now", retry_after=5
        ) from exc
    return schemas.ServerList(items=[schemas.ServerPublic.model_validate(s) for s in found])


def bound_for(tenant: models.Tenant) -> str | None:
    """The pool shard a pooled tenant's load counts on when planning: where a move under way
    takes it (None: out of the pool shards), else where it is."""
    if not moving(tenant):
        return server_of(tenant)
    wanted = tenant.placement_request or {}
    last = tenant.migration or {}
    running = last.get("phase") not in (None, *FINISHED)
    isolation = last.get("target") if running else wanted_isolation(tenant)
    server = last.get("targetServer") if running else wanted.get("server")
    if isolation not in POOLED:
        return None
    return str(server) if server else server_of(tenant)


def _load(tenant: models.Tenant, by: str, loads: dict[str, app_db.TenantLoad]) -> int:
    if by == "tenants":
        return 1
    found = loads.get(tenant.tenant_key)
    if found is None:
        return 0
    return found.rows if by == "rows" else found.requests


def rebalance(
    *,
    session: Session,
    ctx: audit.Context,
    data: schemas.RebalanceCreate,
    today: dt.date,
    servers: ServersOf = app_db.servers,
) -> schemas.RebalancePlan:
    """Plan the moves that even out the pool shards (their loads counted over the pooled
    tenants, or those of `data.tier`); unless it is a dry run, set going as many as keep
    `max_concurrent` running."""
    shards = [s.name for s in list_servers(servers=servers).items if s.kind == "pool"]
    chosen = select(models.Tenant).where(
        models.Tenant.placement.in_(POOLED),
        models.Tenant.lifecycle == models.Lifecycle.ACTIVE.value,
    )
    if data.tier is not None:
        chosen = chosen.where(models.Tenant.tier == data.tier)
    pooled = list(session.scalars(chosen.order_by(models.Tenant.tenant_key)))
    loads: dict[str, app_db.TenantLoad] = {}
    if data.by != "tenants":
        try:
            loads = app_db.tenant_loads(today - dt.timedelta(days=1))
        except app_db.UsageUnavailable as exc:
            raise errors.Unavailable("Usage unavailable", "usage cannot be read now") from exc
    by_key = {t.tenant_key: t for t in pooled}
    placed = [
        rebalancing.Placed(t.tenant_key, bound, _load(t, data.by, loads), moving(t))
        for t in pooled
        if (bound := bound_for(t)) is not None
    ]
    planned = rebalancing.plan(shards=shards, tenants=placed, max_moves=data.max_moves)
    running = sum(1 for p in placed if p.moving and p.server in shards)
    room = 0 if data.dry_run else max(0, data.max_concurrent - running)
    shown: list[schemas.PlannedMove] = []
    for move in planned.moves:
        tenant = by_key[move.tenant_key]
        started = room > 0
        if started:
            request_move(
                session=session,
                ctx=ctx,
                tenant=tenant,
                isolation=str(tenant.placement),
                server=move.target,
                servers=servers,
                why=f"rebalance by {data.by}",
            )
            room -= 1
            running += 1
        shown.append(
            schemas.PlannedMove(
                tenant_id=tenant.id,
                slug=tenant.tenant_key,
                isolation=str(tenant.placement),
                source_server=move.source,
                target_server=move.target,
                load=move.load,
                started=started,
            )
        )
    return schemas.RebalancePlan(
        by=data.by,
        dry_run=data.dry_run,
        loads_before=dict(planned.before),
        loads_after=dict(planned.after),
        spread_before=rebalancing.Plan.spread(planned.before),
        spread_after=rebalancing.Plan.spread(planned.after),
        running=running,
        moves=shown,
    )
