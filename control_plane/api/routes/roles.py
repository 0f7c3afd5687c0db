"""A tenant's roles: the built-in ones and its own custom roles."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.services import roles

router = APIRouter(prefix="/tenants/{tenant_id}/roles", tags=["roles"])


@router.get("", response_model=list[schemas.RolePublic])
def list_roles(access: deps.UsersReader, session: deps.SessionDep) -> list[models.Role]:
    return roles.list_roles(session=session, tenant_id=access.tenant.id)


@router.post("", response_model=schemas.RolePublic, status_code=status.HTTP_201_CREATED)
def create_role(
    data: schemas.RoleCreate,
    access: deps.RolesManager,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> models.Role:
    return roles.create(
        session=session, ctx=ctx, actor=access.actor, tenant_id=access.tenant.id, data=data
    )


@router.patch("/{role_id}", response_model=schemas.RolePublic)
def update_role(
    role_id: uuid.UUID,
    data: schemas.RoleUpdate,
    access: deps.RolesManager,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> models.Role:
    role = roles.get_custom(session=session, tenant_id=access.tenant.id, role_id=role_id)
    return roles.update(session=session, ctx=ctx, actor=access.actor, role=role, data=data)


@router.delete("/{role_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_role(
    role_id: uuid.UUID, access: deps.RolesManager, session: deps.SessionDep, ctx: deps.AuditDep
) -> None:
    role = roles.get_custom(session=session, tenant_id=access.tenant.id, role_id=role_id)
    roles.delete(session=session, ctx=ctx, actor=access.actor, role=role)
