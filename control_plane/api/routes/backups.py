"""Backups, for platform admins: list a tenant's scheduled backups (`GET
/tenants/{id}/backups`), restore the tenant live to one (`POST /tenants/{id}/restores`) and
follow it (`GET .../restores`). The work is services.backups'; a restore wakes the outbox.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from control_plane import schemas_backups as schemas
from control_plane.api import deps
from control_plane.services import backups

router = APIRouter(tags=["backups"])


@router.get(
    "/tenants/{tenant_id}/backups",
    response_model=schemas.BackupsPublic,
    responses={404: {"description": "No such tenant"}},
)
def list_backups(_: deps.PlatformAdmin, access: deps.TenantReader) -> schemas.BackupsPublic:
    """The tenant's scheduled backups kept (name, time, rows, size), newest last, as mirrored
    from its Tenant's status; its Tier's `spec.backup` says how often and how many."""
    return backups.listing(access.tenant)


@router.post(
    "/tenants/{tenant_id}/restores",
    response_model=schemas.RestoresPublic,
    status_code=202,
    responses={
        404: {"description": "No such tenant"},
        409: {"description": "A move or restore is under way, or the tenant is closing"},
        422: {"description": "Not a backup of this tenant (`allowed` lists its backups)"},
    },
)
def restore_tenant(
    data: schemas.RestoreCreate,
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
    response: Response,
) -> schemas.RestoresPublic:
    """Restore the tenant live to one of its backups: its Tenant's `spec.restore` is set
    (through the outbox); the operator loads the backup beside the tenant's data while the app
    keeps serving it, then swaps it in under the tenant's fence. Writes made since the backup
    are replaced. Follow it at the Location (`GET .../restores`)."""
    tenant = backups.request_restore(
        session=session, ctx=ctx, tenant=access.tenant, backup=data.backup
    )
    wake()
    response.headers["Location"] = f"/api/v1/tenants/{tenant.id}/restores"
    return backups.restores(tenant)


@router.get(
    "/tenants/{tenant_id}/restores",
    response_model=schemas.RestoresPublic,
    responses={404: {"description": "No such tenant"}},
)
def read_restores(_: deps.PlatformAdmin, access: deps.TenantReader) -> schemas.RestoresPublic:
    """The restore asked for, whether it is under way, the current or last live migration and
    the restores done (newest last), as mirrored from its Tenant's status."""
    return backups.restores(access.tenant)
