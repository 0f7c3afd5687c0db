"""Backups, for platform admins: list a tenant's scheduled backups (`GET
/tenants/{id}/backups`). The work is services.backups'.
"""

from __future__ import annotations

from fastapi import APIRouter

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
