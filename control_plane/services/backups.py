"""Backups use cases for platform admins: list a tenant's scheduled backups, and restore the
tenant live to one of them. The operator takes and prunes backups per the Tier's
`spec.backup` and reports them in the Tenant's status, which workers.mirror brings into the
registry (`tenants.backups`, `migration`, `moves`).

A restore is asked for, never carried out, here (like a move, services.placement): the registry
records it (`restore_request`: the backup and when), audited, and the outbox applies it as the
Tenant's `spec.restore`; the operator then loads the backup beside the tenant's data and swaps
it in under the fence while the app keeps serving. Only a backup the tenant's status lists may
be named (another tenant's is refused here, and again by the operator from the manifest's uid).
Used by api.routes.backups.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from control_plane import models, schemas_placement
from control_plane import schemas_backups as schemas
from control_plane.services import audit, errors, placement


def listing(tenant: models.Tenant) -> schemas.BackupsPublic:
    """The tenant's backups kept, newest last."""
    return schemas.BackupsPublic(
        tenant_id=tenant.id,
        slug=tenant.tenant_key,
        items=[schemas.BackupPublic.from_status(b) for b in tenant.backups or []],
    )


def restore_pending(tenant: models.Tenant) -> bool:
    """Whether the restore asked for has not started yet: its stamp is neither the live
    migration's nor a finished move's (the history keeps the last 10)."""
    wanted = tenant.restore_request or {}
    seen = {m.get("restoreRequested") for m in [tenant.migration or {}, *(tenant.moves or [])]}
    return bool(wanted) and wanted.get("requested") not in seen


def request_restore(
    *, session: Session, ctx: audit.Context, tenant: models.Tenant, backup: str
) -> models.Tenant:
    """Ask for the tenant to be restored live to its backup `backup` (audited; the outbox
    applies it to its Tenant)."""
    if tenant.lifecycle != models.Lifecycle.ACTIVE:
        raise errors.Conflict("Tenant closing", f"the tenant is {tenant.lifecycle}")
    if placement.moving(tenant) or restore_pending(tenant):
        raise errors.Conflict(
            "Move in progress", "a move or restore of this tenant is under way; wait for it to end"
        )
    names = [str(b.get("name")) for b in tenant.backups or []]
    if backup not in names:
        raise errors.InvalidInput(
            "Unknown backup",
            f"{backup!r} is not a backup of this tenant",
            field="backup",
            reason="not a backup of this tenant",
            allowed=names,
        )
    requested = dt.datetime.now(dt.UTC).isoformat()
    audit.record(
        session=session,
        ctx=ctx,
        action="tenant.restore",
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        after={"backup": backup, "requested": requested},
    )
    tenant.restore_request = {"backup": backup, "requested": requested}
    tenant.updated_at = dt.datetime.now(dt.UTC)
    session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.APPLY_TENANT))
    session.commit()
    return tenant


def restores(tenant: models.Tenant) -> schemas.RestoresPublic:
    """The restore asked for, the live migration under way or last (a restore's names its
    backup), and the restores done."""
    last = tenant.migration or {}
    return schemas.RestoresPublic(
        tenant_id=tenant.id,
        slug=tenant.tenant_key,
        requested=tenant.restore_request,
        running=placement.moving(tenant) or restore_pending(tenant),
        current=schemas_placement.MigrationPublic.from_status(last) if last else None,
        backup=last.get("backup"),
        history=[
            schemas_placement.MovePublic.from_status(m)
            for m in tenant.moves or []
            if m.get("backup")
        ],
    )
