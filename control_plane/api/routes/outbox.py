"""`/outbox`: platform admins list the outbox's pending entries and dead letters (entries that
failed OUTBOX_MAX_ATTEMPTS times) and retry a dead letter. The work is services.outbox'; a retry
wakes the dispatcher.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from control_plane import models
from control_plane.api import deps
from control_plane.services import outbox

router = APIRouter(prefix="/outbox", tags=["outbox"])


class OutboxEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: uuid.UUID
    action: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    dead_at: dt.datetime | None
    processed_at: dt.datetime | None
    payload: dict[str, Any] | None


class OutboxPage(BaseModel):
    items: list[OutboxEntryPublic]
    next_cursor: int | None


EntryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=OutboxPage)
def list_outbox(
    _: deps.PlatformAdmin,
    session: deps.SessionDep,
    state: models.OutboxState = models.OutboxState.PENDING,
    cursor: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> OutboxPage:
    """Entries in `state` (pending or dead), oldest first."""
    found = outbox.query(session=session, state=state, after_id=cursor, limit=limit)
    items = [OutboxEntryPublic.model_validate(e) for e in found]
    return OutboxPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)


@router.post("/{entry_id}/retry", response_model=OutboxEntryPublic)
def retry_entry(
    _: deps.PlatformAdmin,
    entry_id: EntryId,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
    wake: deps.WakeDep,
) -> models.OutboxEntry:
    """Put a dead letter back in the queue, due now with its attempts reset; audited."""
    entry = outbox.retry(session=session, ctx=ctx, entry_id=entry_id)
    wake()
    return entry
