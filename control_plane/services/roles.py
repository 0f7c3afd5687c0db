"""A tenant's custom roles: named permission sets beside the built-in ones.

Built-in roles are read-only; a custom role holds only permissions its creator holds, and is
deleted only when no user or pending invitation has it (services.access checks the grants).
Used by api.routes.roles.
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.services import access, audit, auth, errors, members


def list_roles(*, session: Session, tenant_id: uuid.UUID) -> list[models.Role]:
    return list(
        session.scalars(
            select(models.Role)
            .where(or_(models.Role.tenant_id.is_(None), models.Role.tenant_id == tenant_id))
            .order_by(models.Role.tenant_id.nulls_first(), models.Role.name)
        )
    )


def get_custom(*, session: Session, tenant_id: uuid.UUID, role_id: uuid.UUID) -> models.Role:
    """One of the tenant's own roles, by id (a built-in one is a Conflict: it is read-only)."""
    role = session.get(models.Role, role_id)
    if role is None or (role.tenant_id is not None and role.tenant_id != tenant_id):
        raise errors.NotFound("no such role")
    if role.builtin:
        raise errors.Conflict("Built-in role", "built-in roles cannot be changed")
    return role


def create(
    *,
    session: Session,
    ctx: audit.Context,
    actor: auth.Actor,
    tenant_id: uuid.UUID,
    data: schemas.RoleCreate,
) -> models.Role:
    granted = access.checked_permissions(
        actor=actor, names=data.permissions, field="permissions", what="this role"
    )
    taken = session.scalar(
        select(models.Role.id)
        .where(models.Role.name == data.name)
        .where(or_(models.Role.tenant_id.is_(None), models.Role.tenant_id == tenant_id))
    )
    if taken:
        raise errors.Conflict("Role exists", f"a role named {data.name!r} exists")
    role = models.Role(id=uuid.uuid4(), tenant_id=tenant_id, name=data.name)
    role.description = data.description
    role.grants = [models.RolePermission(permission=p) for p in granted]
    session.add(role)
    audit.record(
        session=session,
        ctx=ctx,
        action="role.create",
        tenant_id=tenant_id,
        resource=f"role:{role.id}",
        after={"name": role.name, "permissions": granted},
    )
    members.commit_or_conflict(
        session=session, title="Role exists", detail=f"a role named {data.name!r} exists"
    )
    return role


def update(
    *,
    session: Session,
    ctx: audit.Context,
    actor: auth.Actor,
    role: models.Role,
    data: schemas.RoleUpdate,
) -> models.Role:
    before = {"description": role.description, "permissions": role.permissions}
    access.no_escalation(actor=actor, granted=role.permissions, what="changing this role")
    if data.permissions is not None:
        granted = access.checked_permissions(
            actor=actor, names=data.permissions, field="permissions", what="this role"
        )
        role.grants = [models.RolePermission(permission=p) for p in granted]
    if data.description is not None:
        role.description = data.description
    session.flush()
    after = {"description": role.description, "permissions": role.permissions}
    if after != before:
        audit.record(
            session=session,
            ctx=ctx,
            action="role.update",
            tenant_id=role.tenant_id,
            resource=f"role:{role.id}",
            before=before,
            after=after,
        )
    session.commit()
    return role


def delete(*, session: Session, ctx: audit.Context, actor: auth.Actor, role: models.Role) -> None:
    """Delete a custom role no user or pending invitation has."""
    access.no_escalation(actor=actor, granted=role.permissions, what="deleting this role")
    in_use = session.scalar(
        select(models.User.id).where(models.User.role_id == role.id).limit(1)
    ) or session.scalar(
        select(models.Invitation.id)
        .where(
            models.Invitation.role_id == role.id,
            models.Invitation.accepted_at.is_(None),
            models.Invitation.revoked_at.is_(None),
        )
        .limit(1)
    )
    if in_use:
        raise errors.Conflict("Role in use", "users or invitations still have this role")
    audit.record(
        session=session,
        ctx=ctx,
        action="role.delete",
        tenant_id=role.tenant_id,
        resource=f"role:{role.id}",
        before={"name": role.name, "permissions": role.permissions},
    )
    session.delete(role)
    session.commit()
