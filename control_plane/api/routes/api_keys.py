"""A tenant's API keys: create (shown once), list, revoke."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.services import api_keys

router = APIRouter(prefix="/tenants/{tenant_id}/api-keys", tags=["api keys"])


@router.get("", response_model=list[schemas.ApiKeyPublic])
def list_keys(access: deps.ApiKeysReader, session: deps.SessionDep) -> list[models.ApiKey]:
    return api_keys.list_keys(session=session, tenant_id=access.tenant.id)


@router.post("", response_model=schemas.ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(
    data: schemas.ApiKeyCreate,
    access: deps.ApiKeysManager,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    ctx: deps.AuditDep,
) -> schemas.ApiKeyCreated:
    """A key limited to `scopes` (permissions the caller holds); `key` is shown only here. The
    key acts for its creator: it may do what its scopes and its creator's current role both
    allow, and stops working when the creator leaves the tenant. It expires after
    `expires_in_days` (default `API_KEY_DEFAULT_DAYS`, at most `API_KEY_MAX_DAYS`)."""
    return api_keys.create(
        session=session,
        ctx=ctx,
        actor=access.actor,
        settings=settings,
        tenant_id=access.tenant.id,
        data=data,
    )


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(
    key_id: uuid.UUID, access: deps.ApiKeysManager, session: deps.SessionDep, ctx: deps.AuditDep
) -> None:
    """Revoke one's own key, or, with `users:manage`, a key of a member one may manage."""
    api_keys.revoke(
        session=session, ctx=ctx, actor=access.actor, tenant_id=access.tenant.id, key_id=key_id
    )
