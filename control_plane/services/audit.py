"""The audit log: every write of the API recorded with who, what, where from, before and after.

Routes build a `Context` from the request (api.deps.AuditDep) and services call `record` in the
same transaction as the change, so an entry exists exactly when the change does. Personal values
(email addresses, names, the client IP) are sealed under their subject's key (core.shredding,
keys in `audit_subject_keys`), and `query` opens them: a value whose key erasure destroyed
(services.erasure) reads as "[erased]". Platform admins query every entry; a tenant reads only
its own (api.routes.audit).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import shredding

_Key = models.AuditSubjectKey


@dataclass(frozen=True)
class Context:
    """Who acts (`user:<id>`, `api_key:<id>`, `stripe:<event>`, `tenantry:<worker>`), from where."""

    actor: str
    request_id: str | None = None
    client_ip: str | None = None


def key_for(session: Session) -> shredding.KeyFor:
    """The subject's key, made on its first use (by any transaction: the subject is unique)."""

    def find(subject: str) -> shredding.Key:
        digest = shredding.subject_hash(subject)
        session.execute(
            insert(_Key)
            .values(id=uuid.uuid4(), subject_hash=digest, key=shredding.new_key())
            .on_conflict_do_nothing(index_elements=[_Key.subject_hash])
        )
        found = session.execute(select(_Key.id, _Key.key).where(_Key.subject_hash == digest)).one()
        assert found.key is not None
        return found.id, found.key

    return find


def record(
    *,
    session: Session,
    ctx: Context,
    action: str,
    tenant_id: uuid.UUID | None,
    resource: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> models.AuditEntry:
    keys = key_for(session)
    subject = shredding.actor_subject(ctx.actor)
    actor = ctx.actor
    if shredding.EMAIL.fullmatch(actor):  # actors are ids; an address is sealed like any other
        actor = shredding.seal(keys(subject), actor)
    client_ip = ctx.client_ip
    if client_ip and shredding.personal_actor(ctx.actor):
        client_ip = shredding.seal(keys(subject), client_ip)
    entry = models.AuditEntry(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        resource=resource,
        before=shredding.seal_document(before, fallback=subject, key_for=keys),
        after=shredding.seal_document(after, fallback=subject, key_for=keys),
        request_id=ctx.request_id,
        client_ip=client_ip,
    )
    session.add(entry)
    return entry


def readable(session: Session, entries: list[models.AuditEntry]) -> list[schemas.AuditEntryPublic]:
    """The entries with their personal values opened ("[erased]" where the key is gone)."""
    wanted = set().union(
        *(shredding.key_ids([e.actor, e.before, e.after, e.client_ip]) for e in entries)
    )
    keys = (
        {
            row.id: row.key
            for row in session.execute(
                select(models.AuditSubjectKey.id, models.AuditSubjectKey.key).where(
                    models.AuditSubjectKey.id.in_(wanted)
                )
            )
        }
        if wanted
        else {}
    )
    opened = []
    for entry in entries:
        public = schemas.AuditEntryPublic.model_validate(entry)
        actor, before, after, client_ip = shredding.open_document(
            [entry.actor, entry.before, entry.after, entry.client_ip], keys.get
        )
        opened.append(
            public.model_copy(
                update={"actor": actor, "before": before, "after": after, "client_ip": client_ip}
            )
        )
    return opened


def query(
    *,
    session: Session,
    tenant_id: uuid.UUID | None = None,
    actor: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[schemas.AuditEntryPublic]:
    """Entries newest first, opened; `before_id` is the cursor of the next page."""
    stmt = select(models.AuditEntry).order_by(models.AuditEntry.id.desc()).limit(limit)
    if tenant_id is not None:
        stmt = stmt.where(models.AuditEntry.tenant_id == tenant_id)
    if actor:
        stmt = stmt.where(models.AuditEntry.actor == actor)
    if action:
        stmt = stmt.where(models.AuditEntry.action.startswith(action, autoescape=True))
    if before_id is not None:
        stmt = stmt.where(models.AuditEntry.id < before_id)
    return readable(session, list(session.scalars(stmt)))
