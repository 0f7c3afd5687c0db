"""A tenant's users and invitations (mailed), and accepting an invitation."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, status

from control_plane import schemas
from control_plane.api import deps
from control_plane.services import invitations, members

router = APIRouter(tags=["users"])


@router.get("/tenants/{tenant_id}/users", response_model=list[schemas.UserPublic])
def list_users(access: deps.UsersReader, session: deps.SessionDep) -> list[schemas.UserPublic]:
    found = members.list_users(session=session, tenant_id=access.tenant.id)
    return [members.user_public(u) for u in found]


@router.patch("/tenants/{tenant_id}/users/{user_id}", response_model=schemas.UserPublic)
def change_role(
    user_id: uuid.UUID,
    data: schemas.UserUpdate,
    access: deps.UsersManager,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> schemas.UserPublic:
    """Give the user another role (never one with permissions the caller lacks)."""
    user = members.get_user(session=session, tenant_id=access.tenant.id, user_id=user_id)
    changed = members.change_role(
        session=session, ctx=ctx, actor=access.actor, user=user, role_name=data.role
    )
    return members.user_public(changed)


@router.delete("/tenants/{tenant_id}/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_user(
    user_id: uuid.UUID, access: deps.UsersManager, session: deps.SessionDep, ctx: deps.AuditDep
) -> None:
    user = members.get_user(session=session, tenant_id=access.tenant.id, user_id=user_id)
    members.remove_user(session=session, ctx=ctx, actor=access.actor, user=user)


@router.post(
    "/tenants/{tenant_id}/invitations",
    response_model=schemas.InvitationPublic,
    status_code=status.HTTP_201_CREATED,
)
def invite(
    data: schemas.InvitationCreate,
    access: deps.UsersManager,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    ctx: deps.AuditDep,
) -> schemas.InvitationPublic:
    """Invite someone by email: the invitee is mailed a link with a one-time token (through
    the outbox: `mailed_at` says when). The token is only in the mail."""
    expires = dt.timedelta(hours=settings.INVITATION_EXPIRE_HOURS)
    return invitations.invite(
        session=session,
        ctx=ctx,
        actor=access.actor,
        tenant=access.tenant,
        data=data,
        expires=expires,
    )


@router.get("/tenants/{tenant_id}/invitations", response_model=list[schemas.InvitationPublic])
def list_invitations(
    access: deps.UsersReader, session: deps.SessionDep
) -> list[schemas.InvitationPublic]:
    return [
        schemas.InvitationPublic(**invitations.invitation_public(inv))
        for inv in invitations.list_invitations(session=session, tenant_id=access.tenant.id)
    ]


@router.delete(
    "/tenants/{tenant_id}/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT
)
def revoke_invitation(
    invitation_id: uuid.UUID,
    access: deps.UsersManager,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> None:
    invitations.revoke_invitation(
        session=session, ctx=ctx, tenant_id=access.tenant.id, invitation_id=invitation_id
    )


@router.post(
    "/invitations/accept",
    response_model=schemas.Token,
    status_code=status.HTTP_201_CREATED,
    responses={
        401: {"description": "The id_token is invalid, expired or carries no verified email"},
        403: {
            "description": "The request carries the credential of the invitation's sender, or "
            "the id_token's email is not the invited one"
        },
        409: {"description": "The email cannot be used for a new account (no account named)"},
        404: {"description": "No such invitation, or used, revoked or expired"},
    },
)
def accept_invitation(
    data: schemas.InvitationAccept,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    verifier: deps.OidcDep,
    ctx: deps.AuditDep,
) -> schemas.Token:
    """Join the tenant with the invitation's role; answers the new user's tokens. With an
    `id_token` (the OIDC issuer's, its verified email the invited one) instead of a password,
    the new account is linked to that identity."""
    return members.accept(session=session, ctx=ctx, settings=settings, data=data, verifier=verifier)
