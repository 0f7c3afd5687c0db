"""Invitations to join a tenant: made by a user with `users:manage` (or, for the owner a Tenant
made with kubectl names, by the outbox), listed, revoked, and given their one-time token when
their mail is sent.

An invitation is made without a token: the answer never holds one. The SEND_INVITATION outbox
entry written in the same transaction (the kubectl owner's INVITE_OWNER entry makes its
invitation when it runs) calls `issue_token` and mails the link (workers.outbox), so the token
exists only in the mail and, hashed, in the row. The token names its invitation, so a link
opened before the mailing transaction commits waits for it (services.members). A retried entry
issues a new token (the one of a mail that failed to go was rolled back with it). Nobody
invites with a role holding what they do not hold (services.access). Accepting is
services.members's `accept`. Used by api.routes.users and workers.outbox.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import permissions, security
from control_plane.services import access, audit, auth, errors, members

INVITATION_PREFIX = members.INVITATION_PREFIX
KUBERNETES = "tenantry:kubernetes"  # who invites the owner of a Tenant made with kubectl


def _not_a_member(session: Session, tenant_id: uuid.UUID, email: str) -> None:
    """Refuse to invite a member of the tenant; whether another tenant has the email is not
    told (the invitee learns it when accepting, and only they hold the invitation)."""
    found = session.scalar(
        select(models.User.id).where(
            models.User.email == email.lower(), models.User.tenant_id == tenant_id
        )
    )
    if found is not None:
        raise errors.Conflict("Already a member", "this email is already a member of the tenant")


def invitation_public(inv: models.Invitation) -> dict[str, Any]:
    return {
        "id": inv.id,
        "email": inv.email,
        "role": inv.role.name,
        "invited_by": inv.invited_by,
        "created_at": inv.created_at,
        "expires_at": inv.expires_at,
        "mailed_at": inv.mailed_at,
        "accepted_at": inv.accepted_at,
        "revoked_at": inv.revoked_at,
    }


def invite(
    *,
    session: Session,
    ctx: audit.Context,
    actor: auth.Actor,
    tenant: models.Tenant,
    data: schemas.InvitationCreate,
    expires: dt.timedelta,
) -> schemas.InvitationPublic:
    """Invite someone by email: the invitation, and its mail queued in the outbox (the token
    is only in the mail)."""
    role = members.find_role(session=session, tenant_id=tenant.id, name=data.role)
    access.no_escalation(
        actor=actor, granted=role.permissions, what=f"inviting with role {role.name!r}"
    )
    _not_a_member(session, tenant.id, data.email)
    inv = models.Invitation(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        email=data.email.lower(),
        role=role,
        invited_by=actor.ref,
        expires_at=dt.datetime.now(dt.UTC) + expires,
    )
    session.add(inv)
    session.flush()
    session.add(
        models.OutboxEntry(
            tenant=tenant,
            action=models.OutboxAction.SEND_INVITATION,
            payload={"invitation_id": str(inv.id)},
        )
    )
    audit.record(
        session=session,
        ctx=ctx,
        action="invitation.create",
        tenant_id=tenant.id,
        resource=f"invitation:{inv.id}",
        after={"email": inv.email, "role": role.name},
    )
    session.commit()
    return schemas.InvitationPublic(**invitation_public(inv))


def invite_owner(
    *, session: Session, tenant: models.Tenant, expires: dt.timedelta
) -> models.Invitation | None:
    """Invite the owner a Tenant made with kubectl names (`spec.owner.email`) with the owner
    role (its token comes with `issue_token`). None when that email already belongs to the
    tenant or has an open invitation."""
    email = (tenant.owner_email or "").lower()
    if not email:
        return None
    member = session.scalar(
        select(models.User.id).where(models.User.email == email, models.User.tenant_id == tenant.id)
    )
    open_invitation = session.scalar(
        select(models.Invitation.id).where(
            models.Invitation.tenant_id == tenant.id,
            models.Invitation.email == email,
            models.Invitation.accepted_at.is_(None),
            models.Invitation.revoked_at.is_(None),
            models.Invitation.expires_at > func.now(),
        )
    )
    if member is not None or open_invitation is not None:
        return None
    inv = models.Invitation(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        email=email,
        role=auth.builtin_role(session=session, name=permissions.OWNER),
        invited_by=KUBERNETES,
        expires_at=dt.datetime.now(dt.UTC) + expires,
    )
    session.add(inv)
    session.flush()
    audit.record(
        session=session,
        ctx=audit.Context(KUBERNETES),
        action="invitation.create",
        tenant_id=tenant.id,
        resource=f"invitation:{inv.id}",
        after={"email": email, "role": permissions.OWNER},
    )
    return inv


def issue_token(
    *, session: Session, invitation_id: uuid.UUID
) -> tuple[models.Invitation, str] | None:
    """A new one-time token for an open invitation whose mail is being sent (any earlier one
    stops working), recorded hashed with `mailed_at`; None when the invitation is gone, was
    accepted or revoked, or has expired (nothing to mail)."""
    inv = session.scalar(
        select(models.Invitation)
        .where(models.Invitation.id == invitation_id)
        .with_for_update(of=models.Invitation)
    )
    now = dt.datetime.now(dt.UTC)
    if inv is None or inv.accepted_at or inv.revoked_at or inv.expires_at <= now:
        return None
    token, inv.token_hash = security.new_selected_secret(INVITATION_PREFIX, inv.id)
    inv.mailed_at = now
    return inv, token


def list_invitations(*, session: Session, tenant_id: uuid.UUID) -> list[models.Invitation]:
    return list(
        session.scalars(
            select(models.Invitation)
            .where(models.Invitation.tenant_id == tenant_id)
            .order_by(models.Invitation.created_at.desc())
        )
    )


def revoke_invitation(
    *, session: Session, ctx: audit.Context, tenant_id: uuid.UUID, invitation_id: uuid.UUID
) -> None:
    inv = session.get(models.Invitation, invitation_id)
    if inv is None or inv.tenant_id != tenant_id:
        raise errors.NotFound("no such invitation")
    if inv.revoked_at is None and inv.accepted_at is None:
        inv.revoked_at = dt.datetime.now(dt.UTC)
        audit.record(
            session=session,
            ctx=ctx,
            action="invitation.revoke",
            tenant_id=tenant_id,
            resource=f"invitation:{inv.id}",
            before={"email": inv.email},
        )
        session.commit()
