"""A tenant's people: its users and their roles, and accepting an invitation (made by
services.invitations).

Nobody grants what they do not hold: a role given to a user or an invitation, and a change to
someone whose role outranks the caller, are checked against the caller's own permissions
(services.access). A tenant always keeps an owner. On a tier priced per seat, a user joining
or leaving has the subscription's quantity follow (through the outbox). Every change is
audited in its transaction.
Used by api.routes.users; `find_role` and `commit_or_conflict` by services.roles and
services.invitations too.
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid

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

INVITATION_PREFIX = "inv"  # of the invitation tokens services.invitations issues


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


# -- joining ------------------------------------------------------------------------------------
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
    token_hash = security.hash_secret(data.token)
    # The token names its invitation: its row is locked by id, so a link opened while the mail's
    # transaction is still open waits for its commit (and its token) rather than missing it.
    selector = security.selector_of(data.token, INVITATION_PREFIX)
    found = select(models.Invitation).with_for_update(of=models.Invitation)
    if selector is None:  # a token of the older form, issued before it named its invitation
        found = found.where(models.Invitation.token_hash == token_hash)
    else:
        found = found.where(models.Invitation.id == selector)
    inv = session.scalar(found)
    if (
        inv is None
        or not hmac.compare_digest(inv.token_hash or "", token_hash)
        or inv.accepted_at
        or inv.revoked_at
        or inv.expires_at <= now
    ):
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
