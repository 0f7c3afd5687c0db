"""A tenant's API keys: created with scopes the creator holds, shown once, stored as a hash,
expiring (`API_KEY_DEFAULT_DAYS`, at most `API_KEY_MAX_DAYS`), revocable by their creator or by
whoever may manage that creator. A key acts for the person who created it (a key made by a key
acts for that key's creator); services.auth admits it by its hash, narrowed to what that person
holds. Used by api.routes.api_keys; `revoke_created_by` by services.members.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import config, permissions, security
from control_plane.services import access, audit, auth, errors

PREFIX_SHOWN = 12  # characters kept to tell keys apart in listings


def create(
    *,
    session: Session,
    ctx: audit.Context,
    actor: auth.Actor,
    settings: config.Settings,
    tenant_id: uuid.UUID,
    data: schemas.ApiKeyCreate,
) -> schemas.ApiKeyCreated:
    """A key limited to scopes the actor holds; the answer holds the key, shown this once."""
    scopes = access.checked_permissions(
        actor=actor, names=data.scopes, field="scopes", what="an API key with these scopes"
    )
    days = data.expires_in_days or settings.API_KEY_DEFAULT_DAYS
    if days > settings.API_KEY_MAX_DAYS:
        raise errors.InvalidInput(
            "Expiry too far",
            f"an API key lives at most {settings.API_KEY_MAX_DAYS} days",
            field="expires_in_days",
            reason=f"more than {settings.API_KEY_MAX_DAYS} days",
        )
    token, token_hash = security.new_secret(auth.API_KEY_PREFIX)
    key = models.ApiKey(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=data.name,
        prefix=token[:PREFIX_SHOWN],
        key_hash=token_hash,
        scopes=list(scopes),
        created_by=actor.person,
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=days),
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


def _may_revoke(session: Session, actor: auth.Actor, key: models.ApiKey) -> None:
    """Its creator may revoke a key; anyone else needs to be able to manage the creator."""
    if actor.platform_admin or key.created_by == actor.person:
        return
    if not actor.can(permissions.Permission.USERS_MANAGE):
        raise errors.Forbidden(
            "revoking another member's API key needs the 'users:manage' permission",
            permission=permissions.Permission.USERS_MANAGE,
        )
    creator_id = auth.user_of_ref(key.created_by)
    creator = session.get(models.User, creator_id) if creator_id else None
    if creator is not None and creator.role is not None:
        access.no_escalation(
            actor=actor, granted=creator.role.permissions, what="revoking this member's API key"
        )


def revoke(
    *,
    session: Session,
    ctx: audit.Context,
    actor: auth.Actor,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
) -> None:
    key = session.get(models.ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:
        raise errors.NotFound("no such API key")
    _may_revoke(session, actor, key)
    if key.revoked_at is None:
        _revoke(session, ctx, key)
        session.commit()


def revoke_created_by(*, session: Session, ctx: audit.Context, user: models.User) -> None:
    """Revoke, audited, every live key the user created (in the caller's transaction)."""
    for key in session.scalars(
        select(models.ApiKey).where(
            models.ApiKey.created_by == f"user:{user.id}", models.ApiKey.revoked_at.is_(None)
        )
    ):
        _revoke(session, ctx, key)


def _revoke(session: Session, ctx: audit.Context, key: models.ApiKey) -> None:
    key.revoked_at = dt.datetime.now(dt.UTC)
    audit.record(
        session=session,
        ctx=ctx,
        action="api_key.revoke",
        tenant_id=key.tenant_id,
        resource=f"api_key:{key.id}",
        before={"name": key.name, "scopes": key.scopes},
    )
