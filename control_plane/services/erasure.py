"""Erasure of a person's data (GDPR art. 17): on request, by a platform admin or the user
themselves (api.routes.erasure),
and for the users of a tenant whose offboarding completed, once its last mails went out
(`erase_offboarded`, from workers.sweeper).

Erasing a user destroys the audit-log keys of their subjects (`email:<address>` and
`user:<id>`: core.shredding), so every personal value sealed under them reads "[erased]" while
the entries stay; deletes the user (their refresh tokens and email verifications go with them,
and the app plane's principals are republished without them: services.principals), the
invitations to their address and their stored idempotent responses; clears the address where
a tenant names it as its owner's; and blanks it in the outbox's mails (one still pending is
closed unsent). The erasure itself is audited, naming only `user:<id>`. Idempotent: erasing
what is gone finds nothing to do.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.core import permissions, shredding
from control_plane.services import audit, auth, errors

ERASED = shredding.ERASED


def destroy_keys(*, session: Session, subjects: list[str]) -> int:
    """Destroy the keys of `subjects` and forget whose they were; how many."""
    Key = models.AuditSubjectKey  # noqa: N806
    hashes = [shredding.subject_hash(s) for s in subjects]
    result = session.execute(
        update(Key)
        .where(Key.subject_hash.in_(hashes))
        .values(key=None, subject_hash=None, erased_at=func.now())
        .returning(Key.id)
    )
    return len(result.all())


def _forget_address(session: Session, email: str, now: dt.datetime) -> None:
    session.execute(delete(models.Invitation).where(func.lower(models.Invitation.email) == email))
    session.execute(
        update(models.Tenant)
        .where(func.lower(models.Tenant.owner_email) == email)
        .values(owner_email=None)
    )
    Entry = models.OutboxEntry  # noqa: N806
    for entry in session.scalars(
        select(Entry).where(func.lower(Entry.payload["to"].astext) == email).with_for_update()
    ):
        entry.payload = {"notice": (entry.payload or {}).get("notice"), "to": ERASED}
        if entry.processed_at is None and entry.dead_at is None:
            entry.processed_at, entry.last_error = now, "skipped: its recipient was erased"


def erase_user(*, session: Session, ctx: audit.Context, user_id: uuid.UUID) -> int:
    """Erase the user `user_id` (NotFound when there is none); the keys destroyed."""
    user = session.get(models.User, user_id, with_for_update={"of": models.User})
    if user is None:
        raise errors.NotFound(f"no user {user_id}")
    email = user.email.lower()
    destroyed = destroy_keys(
        session=session, subjects=[shredding.email_subject(email), f"user:{user_id}"]
    )
    _forget_address(session, email, dt.datetime.now(dt.UTC))
    session.execute(
        delete(models.IdempotencyRecord).where(
            or_(
                models.IdempotencyRecord.actor == f"user:{user_id}",
                models.IdempotencyRecord.actor == email,
            )
        )
    )
    tenant_id = user.tenant_id
    session.delete(user)
    audit.record(
        session=session,
        ctx=ctx,
        action="user.erase",
        tenant_id=tenant_id,
        resource=f"user:{user_id}",
        after={"keys_destroyed": destroyed},
    )
    return destroyed


def erase_self(*, session: Session, ctx: audit.Context, actor: auth.Actor) -> int:
    """A user erases themselves (not with an API key; not a platform admin, nor the last owner
    of their tenant: Conflict, so that a tenant always keeps an owner and the platform an
    admin)."""
    if actor.kind != "user":
        raise errors.Forbidden("an API key cannot erase its creator", reason="api_key")
    if actor.platform_admin:
        raise errors.Conflict("Platform admin", "another platform admin erases a platform admin")
    owners = session.scalar(
        select(func.count())
        .select_from(models.User)
        .join(models.Role, models.User.role_id == models.Role.id)
        .where(
            models.User.tenant_id == actor.tenant_id,
            models.Role.tenant_id.is_(None),
            models.Role.name == permissions.OWNER,
        )
    )
    if actor.role == permissions.OWNER and (owners or 0) <= 1:
        raise errors.Conflict(
            "Last owner", "make another user owner, or offboard the tenant, before erasing"
        )
    return erase_user(session=session, ctx=ctx, user_id=actor.id)


def erase_tenant_users(*, session: Session, ctx: audit.Context, tenant_id: uuid.UUID) -> int:
    """Erase every user of an offboarded tenant; how many."""
    users = list(session.scalars(select(models.User.id).where(models.User.tenant_id == tenant_id)))
    for user_id in users:
        erase_user(session=session, ctx=ctx, user_id=user_id)
    return len(users)


def erase_offboarded(*, session: Session, ctx: audit.Context) -> int:
    """Erase the users of every tenant whose offboarding completed (its Tenant is gone), once
    no mail to them is still to be sent (the last notice goes out first); how many users."""
    Entry = models.OutboxEntry  # noqa: N806
    pending = (
        select(Entry.id)
        .where(Entry.tenant_id == models.Tenant.id, Entry.processed_at.is_(None))
        .where(Entry.dead_at.is_(None))
        .exists()
    )
    done = select(models.Tenant.id).where(
        models.Tenant.lifecycle == models.Lifecycle.OFFBOARDING,
        models.Tenant.offboarded_at.is_not(None),
        models.Tenant.phase == "Deleted",
        ~pending,
        select(models.User.id).where(models.User.tenant_id == models.Tenant.id).exists(),
    )
    erased = 0
    for tenant_id in list(session.scalars(done)):
        erased += erase_tenant_users(session=session, ctx=ctx, tenant_id=tenant_id)
    return erased
