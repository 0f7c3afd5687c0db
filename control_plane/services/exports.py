"""Telling the requester of an app-plane export that it is ready, once (services.notices).

The app plane records a finished export in the pool's catalog (integrations.app_exports); the
sweeper (workers.sweeper) calls `notify_ready` every few seconds. Each export's mail is queued
in the outbox in a registry transaction that first takes an advisory lock on the export and
looks for the mail it may already have queued (its `export_id` parameter), and only then is the
export marked told in the pool: a crash or a second control-plane replica between the two never
queues a second mail. The mail goes to the user who asked, or to the tenant's owner when an API
key asked.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.integrations import app_exports
from control_plane.services import notices

_LOCK = 0x45585054  # the first key of the per-export advisory lock ("EXPT")


def _recipient(session: Session, tenant: models.Tenant, done: app_exports.Finished) -> str | None:
    if done.requested_kind == "user":
        try:
            user = session.get(models.User, uuid.UUID(done.requested_by))
        except ValueError:
            user = None
        if user is not None:
            return user.email
    return tenant.owner_email


def _queued(session: Session, export_id: uuid.UUID) -> bool:
    params = models.OutboxEntry.payload["params"]
    return (
        session.scalar(
            select(models.OutboxEntry.id)
            .where(
                models.OutboxEntry.action == models.OutboxAction.SEND_MAIL,
                models.OutboxEntry.payload["notice"].astext == str(notices.Notice.EXPORT_READY),
                params["export_id"].astext == str(export_id),
            )
            .limit(1)
        )
        is not None
    )


def notify_ready(*, session: Session) -> int:
    """Queue the mail of every finished export whose requester was not told; how many."""
    queued = 0
    for done in app_exports.unnotified():
        with session.begin():
            session.execute(select(func.pg_advisory_xact_lock(_LOCK, func.hashtext(str(done.id)))))
            tenant = session.get(models.Tenant, done.tenant_id)
            if tenant is not None and not _queued(session, done.id):
                entry = notices.queue(
                    session,
                    tenant,
                    notices.Notice.EXPORT_READY,
                    to=_recipient(session, tenant, done),
                    export_id=str(done.id),
                    rows=done.rows,
                    size=done.size_bytes,
                )
                queued += entry is not None
        app_exports.mark_notified(done.id)
    return queued
