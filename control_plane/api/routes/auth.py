"""`/auth`: sign in, rotate refresh tokens, sign out, who am I, and verifying one's email."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from control_plane import models, schemas
from control_plane.api import deps, signin
from control_plane.core import db
from control_plane.services import auth, errors, verification

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=schemas.Token,
    responses={
        401: {"description": "Wrong credentials"},
        429: {"description": "Too many attempts for this account, or failures from this address"},
    },
)
def login(
    data: schemas.LoginCreate,
    request: Request,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    ctx: deps.AuditDep,
) -> schemas.Token:
    """Email and password → a short-lived access token and a refresh token. Attempts are
    limited per account and client address (`LOGIN_ATTEMPTS_PER_MINUTE`); past
    `LOGIN_FREE_FAILURES` failed ones, each failure from an address doubles how long it must
    wait (429 with `Retry-After`). Nobody else's failures lock the account."""
    client = deps.client_ip(request) or "unknown"
    with db.engine().connect() as conn:
        signin.refuse_if_waiting(conn, client)
    deps.spend(
        f"login:{data.email.lower()}:{client}",
        settings.LOGIN_ATTEMPTS_PER_MINUTE,
        "too many sign-in attempts for this account; wait and retry",
        policy="login",
    )
    try:
        issued = auth.login(
            session=session, settings=settings, ctx=ctx, email=data.email, password=data.password
        )
    except errors.Unauthorized:
        with db.engine().connect() as conn:
            signin.failed(
                conn,
                client,
                free=settings.LOGIN_FREE_FAILURES,
                cap=settings.LOGIN_MAX_DELAY_SECONDS,
            )
        raise
    with db.engine().connect() as conn:
        signin.succeeded(conn, client)
    return issued


@router.post(
    "/refresh",
    response_model=schemas.Token,
    responses={401: {"description": "Invalid, expired, revoked or reused refresh token"}},
)
def refresh(
    data: schemas.RefreshCreate,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    ctx: deps.AuditDep,
) -> schemas.Token:
    """Use up a refresh token for a new pair. Presenting a used one revokes its whole family."""
    return auth.rotate(session=session, token=data.refresh_token, settings=settings, ctx=ctx)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(data: schemas.RefreshCreate, session: deps.SessionDep, ctx: deps.AuditDep) -> None:
    """Revoke the refresh token's family (every token rotated from the same sign-in)."""
    auth.logout(session=session, token=data.refresh_token, ctx=ctx)


@router.get("/me", response_model=schemas.Me)
def me(actor: deps.CurrentActor) -> schemas.Me:
    return schemas.Me(
        kind="api_key" if actor.kind == "api_key" else "user",
        id=actor.id,
        tenant_id=actor.tenant_id,
        role=actor.role,
        platform_admin=actor.platform_admin,
        permissions=sorted(actor.permissions),
    )


@router.post(
    "/verify-email",
    response_model=schemas.EmailVerified,
    responses={404: {"description": "No such link, or used or expired"}},
)
def verify_email(
    data: schemas.EmailVerificationConfirm, session: deps.SessionDep, ctx: deps.AuditDep
) -> schemas.EmailVerified:
    """Use up the one-time token of a mailed verification link: the email is verified, and a
    tier held since signup is provisioned."""
    return verification.confirm(session=session, ctx=ctx, token=data.token)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        409: {"description": "The email is already verified"},
        429: {"description": "Asked again too soon (see Retry-After)"},
        503: {"description": "The mail could not be sent"},
    },
)
def resend_verification(
    actor: deps.CurrentActor,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    ctx: deps.AuditDep,
) -> dict[str, str]:
    """Mail the signed-in user a new verification link (the earlier ones stop working), at
    most `EMAIL_VERIFY_RESENDS_PER_MINUTE` a minute."""
    user = session.get(models.User, actor.id) if actor.kind == "user" else None
    if user is None:
        raise errors.Forbidden("only a signed-in user can verify their email")
    deps.spend(
        f"verify-mail:{user.id}",
        settings.EMAIL_VERIFY_RESENDS_PER_MINUTE,
        "a verification mail was just sent; wait and retry",
        policy="verify-mail",
    )
    verification.send(session=session, ctx=ctx, settings=settings, user=user)
    return {"status": "sent"}
