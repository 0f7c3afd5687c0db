"""Placement, for platform admins: move a tenant (`POST /tenants/{id}/moves`) and read its moves,
list the servers tenants are placed on, and rebalance the pool shards. The work is
services.placement's; a move or rebalance that set anything going wakes the outbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Response

from control_plane import schemas_placement as schemas
from control_plane.api import deps
from control_plane.services import placement

router = APIRouter(tags=["placement"])
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The servers catalog or usage cannot be read now"}
}


@router.post(
    "/tenants/{tenant_id}/moves",
    response_model=schemas.MovesPublic,
    status_code=202,
    responses={
        404: {"description": "No such tenant"},
        409: {"description": "A move is under way, or the tenant is already there"},
        422: {
            "description": "An unknown server, or one of the wrong kind (`allowed` lists"
            " those of the right kind)"
        },
        **UNAVAILABLE,
    },
)
def move_tenant(
    data: schemas.MoveCreate,
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
    response: Response,
) -> schemas.MovesPublic:
    """Move the tenant live to another isolation model and/or server: its Tenant's
    `spec.placement` is set (through the outbox) and the operator moves the data while it keeps
    serving. Follow it at the Location (`GET .../moves`)."""
    tenant = placement.request_move(
        session=session,
        ctx=ctx,
        tenant=access.tenant,
        isolation=data.isolation,
        server=data.server,
    )
    wake()
    response.headers["Location"] = f"/api/v1/tenants/{tenant.id}/moves"
    return placement.moves(tenant)


@router.get(
    "/tenants/{tenant_id}/moves",
    response_model=schemas.MovesPublic,
    responses={404: {"description": "No such tenant"}},
)
def read_moves(_: deps.PlatformAdmin, access: deps.TenantReader) -> schemas.MovesPublic:
    """Where the tenant is, the move asked for, the one under way (or the last, with its
    figures: rows copied, replication lag, write-block and duration) and the history, newest
    last, as mirrored from its Tenant's status."""
    return placement.moves(access.tenant)


@router.get("/placement/servers", response_model=schemas.ServerList, responses=UNAVAILABLE)
def list_servers(_: deps.PlatformAdmin) -> schemas.ServerList:
    """The servers the operator declared (pool shards and silo servers), with the tenants and
    tenant rows each holds (refreshed about once a minute)."""
    return placement.list_servers()


@router.post(
    "/placement/rebalance",
    response_model=schemas.RebalancePlan,
    responses=UNAVAILABLE,
)
def rebalance(
    data: schemas.RebalanceCreate,
    _: deps.PlatformAdmin,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> schemas.RebalancePlan:
    """Plan the moves that even out the pool shards (by stored rows, tenants or the requests of
    yesterday and today); unless `dry_run`, set the first ones going, at most `max_concurrent`
    running at once. Call again once they finished: each call plans afresh from where tenants
    are."""
    plan = placement.rebalance(
        session=session, ctx=ctx, data=data, today=dt.datetime.now(dt.UTC).date()
    )
    if any(move.started for move in plan.moves):
        wake()
    return plan
