"""The outbox as platform admins see it: pending entries and dead letters in pages, a dead
letter's retry (audited), and the depth and age of each state for the metrics.

Used by api.routes.outbox and workers.outbox (its Prometheus collector).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.services import audit, errors

Entry = models.OutboxEntry


def _in_state(state: models.OutboxState) -> ColumnElement[bool]:
    if state == models.OutboxState.DEAD:
        return Entry.dead_at.is_not(None)
    return Entry.processed_at.is_(None) & Entry.dead_at.is_(None)


def query(
    *,
    session: Session,
    state: models.OutboxState,
    after_id: int | None = None,
    limit: int = 50,
) -> list[models.OutboxEntry]:
    """Entries in `state`, oldest first; `after_id` is the cursor of the next page."""
    stmt = select(Entry).where(_in_state(state)).order_by(Entry.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(Entry.id > after_id)
    return list(session.scalars(stmt))


def retry(*, session: Session, ctx: audit.Context, entry_id: int) -> models.OutboxEntry:
    """Put a dead letter back in the queue, due now with a fresh count of attempts."""
    entry = session.get(Entry, entry_id, with_for_update=True)
    if entry is None:
        raise errors.NotFound(f"no outbox entry {entry_id}")
    if entry.dead_at is None:
        state = "processed" if entry.processed_at else "pending"
        raise errors.Conflict("Not a dead letter", f"outbox entry {entry_id} is {state}")
    before = {"attempts": entry.attempts, "last_error": entry.last_error}
    entry.dead_at, entry.attempts = None, 0
    entry.next_attempt_at = dt.datetime.now(dt.UTC)
    audit.record(
        session=session,
        ctx=ctx,
        action="outbox.retry",
        tenant_id=entry.tenant_id,
        resource=f"outbox:{entry.id}",
        before=before,
        after={"attempts": 0, "state": str(models.OutboxState.PENDING)},
    )
    session.commit()
    return entry


def stats(*, session: Session) -> dict[str, tuple[int, float]]:
    """For each state: how many entries, and the age in seconds of the oldest (0 if none)."""
    found: dict[str, tuple[int, float]] = {}
    for state in models.OutboxState:
        count, oldest = session.execute(
            select(
                func.count(),
                func.coalesce(func.extract("epoch", func.now() - func.min(Entry.created_at)), 0),
            ).where(_in_state(state))
        ).one()
        found[str(state)] = (int(count), float(oldest))
    return found
