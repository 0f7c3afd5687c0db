"""Email verification: one-time tokens mailed to prove a user receives mail at their email, and
what that proof releases.

`send` stores a new token (hashed, valid `EMAIL_VERIFY_EXPIRE_HOURS`; the user's unused ones stop
working), commits, and mails the link through integrations.mailer. `confirm` uses a token up
once: the user is verified, and when their tenant waits for its owner's proof (a signup on a
tier beyond `UNVERIFIED_TIER` runs on that tier until then), the tier it asked for is released:
the Tenant is applied and the subscription moved through the outbox. Every step is audited; no
token reaches a log or an audit entry. Used by services.tenants (signup), services.tiers (the
self-service checks) and api.routes.auth (confirm, resend).
"""

from __future__ import annotations

import datetime as dt
import uuid

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import config, security
from control_plane.integrations import mailer, stripe_sync
from control_plane.services import audit, errors, webhooks

PREFIX = "ev"
log = structlog.get_logger(__name__)


def body(*, link: str, hours: int) -> str:
    """The message that carries the link (the token is in the link only)."""
    return (
        "Confirm that this is your email address by opening the link below.\n\n"
        f"{link}\n\n"
        f"The link works once, for {hours} hours. If you did not sign up for Tenantry, ignore "
        "this message.\n"
    )


def link(settings: config.Settings, token: str) -> str:
    separator = "&" if "?" in settings.EMAIL_VERIFY_URL else "?"
    return f"{settings.EMAIL_VERIFY_URL}{separator}token={token}"


def send(
    *, session: Session, ctx: audit.Context, settings: config.Settings, user: models.User
) -> None:
    """Mail `user` a new verification link; errors.Conflict once verified, errors.Unavailable
    if the mail could not be sent (the token is then useless, as nobody received it)."""
    if user.email_verified_at is not None:
        raise errors.Conflict("Email verified", "this email is already verified")
    token, token_hash = security.new_secret(PREFIX)
    hours = settings.EMAIL_VERIFY_EXPIRE_HOURS
    session.execute(
        delete(models.EmailVerification).where(
            models.EmailVerification.user_id == user.id,
            models.EmailVerification.used_at.is_(None),
        )
    )
    session.add(
        models.EmailVerification(
            id=uuid.uuid4(),
            user_id=user.id,
            token_hash=token_hash,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours),
        )
    )
    audit.record(
        session=session,
        ctx=ctx,
        action="user.email_verification_sent",
        tenant_id=user.tenant_id,
        resource=f"user:{user.id}",
        after={"email": user.email},
    )
    session.commit()
    try:
        mailer.send(
            settings,
            to=user.email,
            subject="Verify your email address",
            body=body(link=link(settings, token), hours=hours),
        )
    except mailer.MailUnavailable as exc:
        log.warning("verification mail not sent", user_id=str(user.id), reason=str(exc))
        raise errors.Unavailable(
            "Mail unavailable", "the verification mail could not be sent; retry", retry_after=30
        ) from exc


def confirm(*, session: Session, ctx: audit.Context, token: str) -> schemas.EmailVerified:
    """Use up a verification token: the user is verified and their tenant's held tier released."""
    now = dt.datetime.now(dt.UTC)
    found = session.scalar(
        select(models.EmailVerification)
        .where(models.EmailVerification.token_hash == security.hash_secret(token))
        .with_for_update(of=models.EmailVerification)
    )
    if found is None or found.used_at is not None or found.expires_at <= now:
        raise errors.NotFound("the verification link does not exist, was used or has expired")
    found.used_at = now
    user = found.user
    as_user = audit.Context(f"user:{user.id}", ctx.request_id, ctx.client_ip)
    if user.email_verified_at is None:
        user.email_verified_at = now
        audit.record(
            session=session,
            ctx=as_user,
            action="user.email_verified",
            tenant_id=user.tenant_id,
            resource=f"user:{user.id}",
            after={"email": user.email},
        )
    tenant = user.tenant
    if tenant is not None and tenant.owner_email == user.email:
        _release(session, as_user, tenant)
    session.commit()
    return schemas.EmailVerified(
        email=user.email,
        verified_at=user.email_verified_at,
        tenant_id=user.tenant_id,
        tier=tenant.tier if tenant else None,
    )


def _release(session: Session, ctx: audit.Context, tenant: models.Tenant) -> None:
    """Give an open tenant the tier its signup asked for: apply it, move its subscription."""
    wanted = tenant.requested_tier
    if wanted is None or tenant.lifecycle != models.Lifecycle.ACTIVE or tenant.payment_pending:
        return  # nothing held, closed, or held until its Checkout is paid (services.billing)
    before = {"tier": tenant.tier, "requested_tier": wanted}
    if wanted != tenant.tier:
        webhooks.emit(
            session, tenant, webhooks.Event.TENANT_TIER_CHANGED, {"from": tenant.tier, "to": wanted}
        )
    tenant.tier, tenant.requested_tier = wanted, None
    tenant.updated_at = dt.datetime.now(dt.UTC)
    audit.record(
        session=session,
        ctx=ctx,
        action="tenant.tier_released",
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        before=before,
        after={"tier": wanted},
    )
    plan = stripe_sync.monthly_plan(session, wanted)
    session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.APPLY_TENANT))
    session.add(
        models.OutboxEntry(
            tenant=tenant,
            action=models.OutboxAction.SYNC_BILLING,
            payload={"plan": plan} if plan else None,
        )
    )


def tenant_verified(*, session: Session, tenant: models.Tenant) -> bool:
    """Whether the tenant's owner (the email it signed up with) has verified that email."""
    return (
        session.scalar(
            select(models.User.id).where(
                models.User.tenant_id == tenant.id,
                models.User.email == tenant.owner_email,
                models.User.email_verified_at.is_not(None),
            )
        )
        is not None
    )
