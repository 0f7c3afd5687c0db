"""Backups use cases for platform admins: list a tenant's scheduled backups. The operator
takes and prunes them per the Tier's `spec.backup` and reports them in the Tenant's status,
which workers.mirror brings into the registry (`tenants.backups`). Used by api.routes.backups.
"""

from __future__ import annotations

from control_plane import models
from control_plane import schemas_backups as schemas


def listing(tenant: models.Tenant) -> schemas.BackupsPublic:
    """The tenant's backups kept, newest last."""
    return schemas.BackupsPublic(
        tenant_id=tenant.id,
        slug=tenant.tenant_key,
        items=[schemas.BackupPublic.from_status(b) for b in tenant.backups or []],
    )
