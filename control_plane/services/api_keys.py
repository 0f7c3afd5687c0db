"""A tenant's API keys: created with scopes the creator holds, shown once, stored as a hash,
revocable. services.auth admits a key by its hash. Used by api.routes.api_keys.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import security
from control_plane.services import access, audit, auth, errors

PREFIX_SHOWN = 12  # characters kept to tell keys apart in listings


def create(
    *,
    session: Session,
    ctx: audit.Context,
    actor: auth.Actor,
    tenant_id: uuid.UUID,
    data: schemas.ApiKeyCreate,
) -> schemas.ApiKeyCreated:
    """A key limited to scopes the actor holds; the answer holds the key, shown this once."""
    scopes = access.checked_permissions(
        actor=actor, names=data.scopes, field="scopes", what="an API key with these scopes"
    )
    token, token_hash = security.new_secret(auth.API_KEY_PREFIX)
    key = models.ApiKey(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=data.name,
        prefix=token[:PREFIX_SHOWN],
        key_hash=token_hash,
        scopes=list(scopes),
        created_by=actor.ref,
        expires_at=(
            dt.datetime.now(dt.UTC) + dt.timedelta(days=data.expires_in_days)
            if data.expires_in_days
            else None
        ),
    )
    session.add(key)
    session.flush()
    audit.record(
        session=session,
        ctx=ctx,
        action="api_key.create",
        tenant_id=tenant_id,
        resource=f"api_key:{key.id}",
        after={"name": key.name, "scopes": list(scopes)},
    )
    session.commit()
    session.refresh(key)
    return schemas.ApiKeyCreated(**schemas.ApiKeyPublic.model_validate(key).model_dump(), key=token)


def list_keys(*, session: Session, tenant_id: uuid.UUID) -> list[models.ApiKey]:
    return list(
        session.scalars(
            select(models.ApiKey)
            .where(models.ApiKey.tenant_id == tenant_id)
            .order_by(models.ApiKey.created_at.desc())
        )
    )


def revoke(
    *, session: Session, ctx: audit.Context, tenant_id: uuid.UUID, key_id: uuid.UUID
) -> None:
    key = session.get(models.ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:
        raise errors.NotFound("no such API key")
    if key.revoked_at is None:
        key.revoked_at = dt.datetime.now(dt.UTC)
        audit.record(
            session=session,
            ctx=ctx,
            action="api_key.revoke",
            tenant_id=tenant_id,
            resource=f"api_key:{key.id}",
            before={"name": key.name, "scopes": key.scopes},
        )
        session.commit()
