"""A tenant's people: its users and their roles, invitations, and accepting one.

Nobody grants what they do not hold: a role given to a user or an invitation, and a change to
someone whose role outranks the caller, are checked against the caller's own permissions
(services.access). A tenant always keeps an owner. On a tier priced per seat, a user joining
or leaving has the subscription's quantity follow (through the outbox). Every change is
audited in its transaction.
Used by api.routes.users; `find_role` and `commit_or_conflict` by services.roles too;
`invite_owner` by workers.outbox (the owner of a Tenant made with kubectl).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import config, oidc, permissions, security
from control_plane.services import (
    access,
    api_keys,
    audit,
    auth,
    errors,
    features,
    federation,
)
from tenantry_core import tokens

INVITATION_PREFIX = "inv"
KUBERNETES = "tenantry:kubernetes"  # who invites the owner of a Tenant made with kubectl


def commit_or_conflict(*, session: Session, title: str, detail: str) -> None:
    """Commit; a unique constraint lost to a concurrent request is a Conflict, not a crash."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise errors.Conflict(title, detail) from exc


def find_role(*, session: Session, tenant_id: uuid.UUID, name: str) -> models.Role:
    """A built-in role or one of the tenant's own, by name (errors.InvalidInput if none)."""
    role = session.scalar(
        select(models.Role)
        .where(models.Role.name == name)
        .where(or_(models.Role.tenant_id.is_(None), models.Role.tenant_id == tenant_id))
        .order_by(models.Role.tenant_id.nulls_first())
    )
    if role is None:
        raise errors.InvalidInput(
            "Unknown role", f"role {name!r} does not exist", field="role", reason="unknown role"
        )
    return role


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


def _seats_changed(session: Session, tenant_id: uuid.UUID | None) -> None:
    """On a tier priced per seat, have the subscription's quantity follow the users (through
    the outbox, which counts them when it runs)."""
    tenant = session.get(models.Tenant, tenant_id) if tenant_id else None
    if tenant is None:
        return
    per_seat = session.scalar(
        select(models.Plan.id).where(models.Plan.tier == tenant.tier, models.Plan.per_seat)
    )
    if per_seat is not None:
        session.add(
            models.OutboxEntry(
                tenant=tenant, action=models.OutboxAction.SYNC_BILLING, payload={"seats": True}
            )
        )


def _email_free(session: Session, email: str) -> None:
    if session.scalar(select(models.User.id).where(models.User.email == email.lower())):
        raise errors.email_unavailable()


# -- users --------------------------------------------------------------------------------------
def user_public(user: models.User) -> schemas.UserPublic:
    assert user.role is not None
    return schemas.UserPublic(
        id=user.id, email=user.email, role=user.role.name, created_at=user.created_at
    )


def list_users(*, session: Session, tenant_id: uuid.UUID) -> list[models.User]:
    return list(
        session.scalars(
            select(models.User)
            .where(models.User.tenant_id == tenant_id)
            .order_by(models.User.created_at, models.User.id)
        )
    )


def get_user(*, session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> models.User:
    user = session.get(models.User, user_id)
    if user is None or user.tenant_id != tenant_id:
        raise errors.NotFound("no such user")
    return user


def _owners(session: Session, tenant_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(models.User)
            .join(models.Role, models.User.role_id == models.Role.id)
            .where(
                models.User.tenant_id == tenant_id,
                models.Role.tenant_id.is_(None),
                models.Role.name == permissions.OWNER,
            )
        )
        or 0
    )


def _keep_an_owner(session: Session, user: models.User) -> None:
    assert user.role is not None
    assert user.tenant_id is not None
    is_owner = user.role.builtin and user.role.name == permissions.OWNER
    if is_owner and _owners(session, user.tenant_id) <= 1:
        raise errors.Conflict("Last owner", "a tenant must keep at least one owner")


def change_role(
    *,
    session: Session,
    ctx: audit.Context,
    actor: auth.Actor,
    user: models.User,
    role_name: str,
) -> models.User:
    """Give the user another role (never one with permissions the caller lacks)."""
    assert user.role is not None
    assert user.tenant_id is not None
    role = find_role(session=session, tenant_id=user.tenant_id, name=role_name)
    if role.id == user.role_id:
        return user
    access.no_escalation(
        actor=actor, granted=user.role.permissions, what="changing this user's role"
    )
    access.no_escalation(actor=actor, granted=role.permissions, what=f"granting role {role.name!r}")
    _keep_an_owner(session, user)
    before = {"role": user.role.name}
    user.role = role
    audit.record(
        session=session,
        ctx=ctx,
        action="user.role_change",
        tenant_id=user.tenant_id,
        resource=f"user:{user.id}",
        before=before,
        after={"role": role.name},
    )
    session.commit()
    return user


def remove_user(
    *, session: Session, ctx: audit.Context, actor: auth.Actor, user: models.User
) -> None:
    assert user.role is not None
    access.no_escalation(actor=actor, granted=user.role.permissions, what="removing this user")
    _keep_an_owner(session, user)
    audit.record(
        session=session,
        ctx=ctx,
        action="user.remove",
        tenant_id=user.tenant_id,
        resource=f"user:{user.id}",
        before={"email": user.email, "role": user.role.name},
    )
    api_keys.revoke_created_by(session=session, ctx=ctx, user=user)
    session.delete(user)
    _seats_changed(session, user.tenant_id)
    session.commit()


def _identity(
    data: schemas.InvitationAccept, verifier: oidc.Verifier | None
) -> dict[str, object] | None:
    """The verified claims of the OIDC token an invitation is accepted with, if any."""
    if data.id_token is None:
        return None
    if verifier is None:
        raise errors.InvalidInput(
            "No OIDC issuer",
            "this platform accepts no OIDC identity; accept with a password",
            field="id_token",
            reason="no OIDC issuer configured",
        )
    try:
        return dict(verifier.claims(data.id_token))
    except tokens.InvalidToken as exc:
        raise errors.Unauthorized("the OIDC token is invalid, expired or unverified") from exc


# -- invitations --------------------------------------------------------------------------------
def invitation_public(inv: models.Invitation) -> dict[str, Any]:
    return {
        "id": inv.id,
        "email": inv.email,
        "role": inv.role.name,
        "invited_by": inv.invited_by,
        "created_at": inv.created_at,
        "expires_at": inv.expires_at,
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
) -> schemas.InvitationCreated:
    """Invite someone by email; the answer holds the token, shown this once."""
    role = find_role(session=session, tenant_id=tenant.id, name=data.role)
    access.no_escalation(
        actor=actor, granted=role.permissions, what=f"inviting with role {role.name!r}"
    )
    _not_a_member(session, tenant.id, data.email)
    token, token_hash = security.new_secret(INVITATION_PREFIX)
    inv = models.Invitation(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        email=data.email.lower(),
        role=role,
        token_hash=token_hash,
        invited_by=actor.ref,
        expires_at=dt.datetime.now(dt.UTC) + expires,
    )
    session.add(inv)
    session.flush()
    audit.record(
        session=session,
        ctx=ctx,
        action="invitation.create",
        tenant_id=tenant.id,
        resource=f"invitation:{inv.id}",
        after={"email": inv.email, "role": role.name},
    )
    session.commit()
    return schemas.InvitationCreated(**invitation_public(inv), token=token)


def invite_owner(
    *, session: Session, tenant: models.Tenant, expires: dt.timedelta
) -> tuple[models.Invitation, str] | None:
    """Invite the owner a Tenant made with kubectl names (`spec.owner.email`) with the owner
    role; the invitation and its token, shown this once (for the mail). None when that email
    already belongs to the tenant or has an open invitation."""
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
    token, token_hash = security.new_secret(INVITATION_PREFIX)
    inv = models.Invitation(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        email=email,
        role=auth.builtin_role(session=session, name=permissions.OWNER),
        token_hash=token_hash,
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


def accept(
    *,
    session: Session,
    ctx: audit.Context,
    settings: config.Settings,
    data: schemas.InvitationAccept,
    verifier: oidc.Verifier | None,
) -> schemas.Token:
    """Create the invitee's user from a valid invitation (once); answers the user's tokens.
    The inviter's own session cannot accept it: that would make an account for someone else's
    email. With a password the account signs in by password (and links an OIDC identity only
    once its email is verified); with an `id_token` of the OIDC issuer whose verified email is
    the invited one, the account signs in through that identity (linked now, audited)."""
    claims = _identity(data, verifier)
    now = dt.datetime.now(dt.UTC)
    inv = session.scalar(
        select(models.Invitation)
        .where(models.Invitation.token_hash == security.hash_secret(data.token))
        .with_for_update(of=models.Invitation)
    )
    if inv is None or inv.accepted_at or inv.revoked_at or inv.expires_at <= now:
        raise errors.NotFound("the invitation does not exist, was used, revoked or has expired")
    if ctx.actor == inv.invited_by:
        raise errors.Forbidden(
            "an invitation is accepted by its invitee, not by the session that sent it"
        )
    if claims is not None and str(claims["email"]).lower() != inv.email:
        raise errors.Forbidden("the identity's verified email is not the one invited")
    if claims is not None:  # signing in through the issuer is the `sso` feature
        features.require(tenant_id=inv.tenant_id, feature=features.SSO)
    _email_free(session, inv.email)
    user = models.User(
        id=uuid.uuid4(),
        tenant_id=inv.tenant_id,
        email=inv.email,
        role_id=inv.role_id,
        password_hash=security.hash_password(data.password) if data.password else None,
    )
    session.add(user)
    if claims is not None:
        assert verifier is not None
        federation.link_invited(
            session=session, ctx=ctx, user=user, issuer=verifier.issuer, claims=claims
        )
    inv.accepted_at = now
    _seats_changed(session, inv.tenant_id)
    audit.record(
        session=session,
        ctx=audit.Context(f"user:{user.id}", ctx.request_id, ctx.client_ip),
        action="invitation.accept",
        tenant_id=inv.tenant_id,
        resource=f"user:{user.id}",
        after={"email": inv.email, "role": inv.role.name},
    )
    try:
        session.commit()
    except IntegrityError as exc:  # the email or identity was taken concurrently
        session.rollback()
        raise errors.email_unavailable() from exc
    session.refresh(user)
    issued = auth.issue_tokens(session=session, user=user, settings=settings)
    session.commit()
    return issued
