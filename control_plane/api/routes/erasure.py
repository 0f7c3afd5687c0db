"""Erasure of a user's personal data on request (GDPR art. 17), by a platform admin or by the
user themselves (services.erasure)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from pydantic import BaseModel

from control_plane.api import deps
from control_plane.services import erasure

router = APIRouter(tags=["erasure"])


class ErasurePublic(BaseModel):
    user_id: uuid.UUID
    keys_destroyed: int


@router.post("/users/{user_id}/erasure", response_model=ErasurePublic)
def erase_user(
    _: deps.PlatformAdmin, user_id: uuid.UUID, session: deps.SessionDep, ctx: deps.AuditDep
) -> ErasurePublic:
    """Erase the user: delete them and their credentials, forget their address, destroy their
    audit-log keys (their entries stay, their personal values read "[erased]"); audited."""
    destroyed = erasure.erase_user(session=session, ctx=ctx, user_id=user_id)
    session.commit()
    return ErasurePublic(user_id=user_id, keys_destroyed=destroyed)


@router.delete("/users/me", status_code=status.HTTP_204_NO_CONTENT)
def erase_me(actor: deps.CurrentActor, session: deps.SessionDep, ctx: deps.AuditDep) -> None:
    """Erase yourself, as with POST /users/{id}/erasure (409 for a tenant's last owner or a
    platform admin)."""
    erasure.erase_self(session=session, ctx=ctx, actor=actor)
    session.commit()
