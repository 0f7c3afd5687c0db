"""Which user an OIDC identity signs in as, and when it may be linked to an account.

An identity is pinned to one user (`<issuer>|<sub>` in `users.oidc_subject`) at its first
sign-in. It links by verified email only to an account that proved itself: one that has signed
in with its password (`users.password_signed_in_at`), so an account someone else created for
that email cannot capture the identity. A platform admin is never linked by email. Every link
and every refused link is audited. Used by services.auth.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.services import audit, errors


def user_for(
    *, session: Session, ctx: audit.Context, issuer: str, claims: dict[str, object]
) -> models.User:
    """The user the identity is pinned to, or the one its verified email links to (then
    pinned); errors.Unauthorized otherwise."""
    subject = f"{issuer}|{claims['sub']}"
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
    return None


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
