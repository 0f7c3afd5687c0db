"""Which user an OIDC identity signs in as, and when it may be linked to an account.

An identity is pinned to one user (`<issuer>|<sub>` in `users.oidc_subject`) at its first
sign-in. It links by verified email only to an account that proved itself twice: it has signed
in with its password (`users.password_signed_in_at`) and its email was verified through a
mailed link (`users.email_verified_at`, services.verification), so an account someone else
created for that email (a signup, or an invitation accepted with a password by whoever held its
token) cannot capture the identity. Or the identity accepts an invitation addressed to its
verified email (`link_invited`): the new account is pinned to it at once. A platform admin is
never linked by email. Every link and every refused link is audited. Used by services.auth and
services.members.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.services import audit, errors


def user_for(
    *, session: Session, ctx: audit.Context, issuer: str, claims: dict[str, object]
) -> models.User:
    """The user the identity is pinned to, or the one its verified email links to (then
    pinned); errors.Unauthorized otherwise."""
    subject = subject_of(issuer, claims)
    user = session.scalar(select(models.User).where(models.User.oidc_subject == subject))
    if user is not None:
        return user
    user = session.scalar(
        select(models.User).where(models.User.email == str(claims["email"]).lower())
    )
    if user is None:
        raise errors.Unauthorized("no user has this identity's email; ask for an invitation")
    refused = refusal(user)
    _audit(session, ctx, user, subject, refused=refused is not None)
    if refused is not None:
        session.commit()
        raise errors.Unauthorized(refused)
    user.oidc_subject = subject
    session.commit()
    return user


def refusal(user: models.User) -> str | None:
    """Why the identity may not be linked to the user, or None."""
    if user.is_platform_admin:
        return "a platform admin's account is never linked to an identity by email"
    if user.oidc_subject is not None:
        return "this account is linked to another identity of the issuer"
    if user.password_signed_in_at is None:
        return "sign in with the account's password once before signing in through the issuer"
    if user.email_verified_at is None:
        return "verify the account's email before signing in through the issuer"
    return None


def subject_of(issuer: str, claims: dict[str, object]) -> str:
    return f"{issuer}|{claims['sub']}"


def link_invited(
    *,
    session: Session,
    ctx: audit.Context,
    user: models.User,
    issuer: str,
    claims: dict[str, object],
) -> None:
    """Pin a new account, made from an invitation to the identity's verified email, to it."""
    subject = subject_of(issuer, claims)
    if session.scalar(select(models.User.id).where(models.User.oidc_subject == subject)):
        raise errors.Conflict("Identity linked", "this identity already signs in to an account")
    user.oidc_subject = subject
    user.email_verified_at = dt.datetime.now(dt.UTC)  # the issuer verified it
    audit.record(
        session=session,
        ctx=audit.Context(f"user:{user.id}", ctx.request_id, ctx.client_ip),
        action="auth.oidc_link",
        tenant_id=user.tenant_id,
        resource=f"user:{user.id}",
        after={"subject": subject, "via": "invitation"},
    )


def _audit(
    session: Session, ctx: audit.Context, user: models.User, subject: str, *, refused: bool
) -> None:
    audit.record(
        session=session,
        ctx=audit.Context(f"user:{user.id}", ctx.request_id, ctx.client_ip),
        action="auth.oidc_link_refused" if refused else "auth.oidc_link",
        tenant_id=user.tenant_id,
        resource=f"user:{user.id}",
        after={"subject": subject},
    )
