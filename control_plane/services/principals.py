"""Keeps the app plane's list of who may use each tenant's data (`tenantry.principals` in the
pool database, through integrations.app_db) equal to the registry's, as changes commit.

A session hook notes the tenants whose users, roles, role grants or API keys a flush touched,
or whose lifecycle changed. Before the transaction commits, it locks each such tenant's row (so
concurrent changes publish in commit order), reads the tenant's principals as they will be
committed, and publishes them. If the pool does not take them, the commit fails and nothing
changes: a removed or demoted user, a revoked key or a key whose creator left never keeps app
access after the change is acknowledged. Only active tenants have principals; a closing or
offboarded tenant's are withdrawn. `publish_all` republishes every tenant (run by
workers.sweeper at start-up and hourly). Installed by `control_plane.main`.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from control_plane import models
from control_plane.core import permissions
from control_plane.integrations import app_db
from control_plane.services import auth, errors

_TENANTS = "tenantry.principals.tenants"  # session.info: the tenants to publish at commit
_ROLES = "tenantry.principals.roles"  # session.info: roles whose grants changed


def install() -> None:
    """Publish on every commit of every Session (idempotent)."""
    if not event.contains(Session, "after_flush", _note):
        event.listen(Session, "after_flush", _note)
        event.listen(Session, "before_commit", _publish_noted)
        event.listen(Session, "after_rollback", _forget)


def _note(session: Session, _: UOWTransaction) -> None:
    tenants: set[uuid.UUID] = session.info.setdefault(_TENANTS, set())
    roles: set[uuid.UUID] = session.info.setdefault(_ROLES, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, models.User | models.ApiKey | models.Role):
            if obj.tenant_id is not None:
                tenants.add(obj.tenant_id)
        elif isinstance(obj, models.RolePermission):
            roles.add(obj.role_id)
        elif isinstance(obj, models.Tenant) and _lifecycle_changed(obj):
            tenants.add(obj.id)


def _lifecycle_changed(tenant: models.Tenant) -> bool:
    state = inspect(tenant)
    return bool(
        state.deleted
        or state.attrs.lifecycle.history.has_changes()
        or state.attrs.offboarded_at.history.has_changes()
    )


def _forget(session: Session) -> None:
    session.info.pop(_TENANTS, None)
    session.info.pop(_ROLES, None)


def _publish_noted(session: Session) -> None:
    session.flush()  # the commit flushes after this hook: note what that flush would write
    if not session.info.get(_TENANTS) and not session.info.get(_ROLES):
        return
    tenants: set[uuid.UUID] = session.info.pop(_TENANTS, set())
    roles: set[uuid.UUID] = session.info.pop(_ROLES, set())
    if roles:
        tenants |= {
            t
            for t in session.scalars(select(models.Role.tenant_id).where(models.Role.id.in_(roles)))
            if t is not None
        }
    for tenant_id in sorted(tenants):  # one order: concurrent publishers never deadlock
        publish(session=session, tenant_id=tenant_id)


def publish(*, session: Session, tenant_id: uuid.UUID) -> None:
    """Publish one tenant's principals as the session sees them (locks the tenant's row until
    the session's transaction ends); errors.Unavailable if the pool does not take them."""
    tenant = session.execute(
        select(models.Tenant.tenant_key, models.Tenant.lifecycle, models.Tenant.offboarded_at)
        .where(models.Tenant.id == tenant_id)
        .with_for_update(key_share=True)
    ).one_or_none()
    live = (
        tenant is not None
        and tenant.lifecycle == models.Lifecycle.ACTIVE
        and tenant.offboarded_at is None
    )
    try:
        app_db.publish(
            tenant_id=tenant_id,
            tenant_key=tenant.tenant_key if tenant is not None else None,
            principals=_principals(session, tenant_id) if live else [],
        )
    except app_db.PrincipalsUnavailable as exc:
        raise errors.Unavailable(
            "Access list unavailable",
            "the app plane's access list could not be updated; nothing was changed",
            retry_after=5,
        ) from exc


def _principals(session: Session, tenant_id: uuid.UUID) -> list[app_db.Principal]:
    held = _held_by_users(session, tenant_id)
    found = [
        app_db.Principal(user_id, "user", permissions.data_permissions(perms or ()))
        for user_id, perms in held.items()
    ]
    now = dt.datetime.now(dt.UTC)
    keys = session.execute(
        select(
            models.ApiKey.id,
            models.ApiKey.key_hash,
            models.ApiKey.scopes,
            models.ApiKey.created_by,
            models.ApiKey.expires_at,
        ).where(
            models.ApiKey.tenant_id == tenant_id,
            models.ApiKey.revoked_at.is_(None),
            (models.ApiKey.expires_at.is_(None)) | (models.ApiKey.expires_at > now),
        )
    )
    for key in keys:
        creator = auth.user_of_ref(key.created_by)
        if creator is None:
            continue
        if creator not in held:
            held.update(_platform_admin(session, creator))
        if creator not in held:
            continue  # its creator left the tenant: the key acts for nobody
        scopes = permissions.key_permissions(key.scopes, held[creator])
        found.append(
            app_db.Principal(
                key.id,
                "api_key",
                permissions.data_permissions(scopes),
                key_hash=key.key_hash,
                expires_at=key.expires_at,
            )
        )
    return found


Held = dict[uuid.UUID, frozenset[str] | None]  # a user's permissions; None: a platform admin


def _held_by_users(session: Session, tenant_id: uuid.UUID) -> Held:
    """Each member of the tenant and the permissions their role grants."""
    rows = session.execute(
        select(
            models.User.id,
            func.array_remove(func.array_agg(models.RolePermission.permission), None),
        )
        .outerjoin(models.RolePermission, models.RolePermission.role_id == models.User.role_id)
        .where(models.User.tenant_id == tenant_id, models.User.is_platform_admin.is_(False))
        .group_by(models.User.id)
    )
    return {user_id: frozenset(perms or ()) for user_id, perms in rows}


def _platform_admin(session: Session, user_id: uuid.UUID) -> Held:
    """A platform admin holds every permission: `None` for key_permissions."""
    admin = session.scalar(
        select(models.User.id).where(
            models.User.id == user_id, models.User.is_platform_admin.is_(True)
        )
    )
    return {admin: None} if admin is not None else {}


def publish_all(*, session: Session) -> int:
    """Republish every tenant (one transaction each, committed); returns how many."""
    ids = list(session.scalars(select(models.Tenant.id).order_by(models.Tenant.id)))
    session.rollback()
    for tenant_id in ids:
        with session.begin():
            publish(session=session, tenant_id=tenant_id)
    return len(ids)
