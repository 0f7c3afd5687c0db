"""Tenant use cases: signup, reading and listing, renaming and re-tiering, suspend and resume,
offboarding with a grace period and restoring within it (plan changes: services.plans).

Each change is audited and records its intent in the outbox (the Tenant resource to apply or
delete, the Stripe subscription to sync) in the transaction of the change, so the intent is never
lost nor applied twice; workers.outbox carries it out. Offboarding first closes the tenant: it is
suspended at once and restorable until `offboard_after`; then workers.sweeper runs
`offboard_expired`, which deletes its Tenant resource, and the operator offboards it by its
deletionPolicy. A signup beyond `UNVERIFIED_TIER` runs on that tier until its owner verifies
their email (services.verification), and, on a paid plan without a trial, until its Checkout
session is paid (services.checkout); a restored canceled tenant gets a new subscription.
Conflicts answer neutrally (services.errors): no other tenant's name, company or email is told.
Used by api.routes.tenants, api.routes.signup and api.deps.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import uuid
from typing import Any

import structlog
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import config, permissions, security
from control_plane.integrations import kube
from control_plane.services import (
    audit,
    auth,
    checkout,
    errors,
    notices,
    tiers,
    verification,
    webhooks,
)
from tenantry_core import enums, identity, tracing

log = structlog.get_logger(__name__)


def get(*, session: Session, tenant_id: uuid.UUID) -> models.Tenant:
    tenant = session.get(models.Tenant, tenant_id)
    if tenant is None:
        raise errors.NotFound("no such tenant")
    return tenant


def _claim(*, session: Session, tenant: models.Tenant, company: str, field_manager: str) -> None:
    """Claim the tenant's name where names are claimed, the API server: create its Tenant now.
    Nothing is kept when the name is taken or the cluster cannot be reached."""
    try:
        session.flush()  # the registry's own uniqueness first: no Tenant for a lost race
    except IntegrityError as exc:
        session.rollback()
        column = getattr(getattr(exc.orig, "diag", None), "constraint_name", None) or ""
        if "email" in column:  # the owner's address, taken meanwhile
            raise errors.email_unavailable() from exc
        raise errors.name_unavailable() from exc
    try:
        created = kube.create_tenant(kube.tenant_resource(tenant), field_manager=field_manager)
    except kube.NameTaken as exc:
        session.rollback()
        raise errors.name_unavailable() from exc
    except kube.KubeUnavailable as exc:
        session.rollback()
        raise errors.Unavailable(
            "Signup unavailable", "the platform cannot take signups right now", retry_after=5
        ) from exc
    tenant.cr_uid = str(created["metadata"]["uid"])


# -- signup -------------------------------------------------------------------------------------
@tracing.traced("tenant.signup")
def signup(
    *,
    session: Session,
    ctx: audit.Context,
    settings: config.Settings,
    data: schemas.SignupCreate,
    offered: set[str],
    catalog: tiers.TierCache,
) -> schemas.SignupPublic:
    """Create the tenant, its owner and the intents to provision it, or nothing at all; then
    sign the owner in and mail them the link that verifies their email. A tier beyond
    `UNVERIFIED_TIER` is held (`requested_tier`) until that link is opened."""
    if data.tier not in offered:
        raise errors.UnknownTier(data.tier, offered=offered)
    chosen = catalog.get(data.tier)
    if chosen is not None:  # held until verified, so only a payment method cannot wait
        tiers.admit(chosen, email_verified=True, has_payment_method=lambda: False)
    held = data.tier != settings.UNVERIFIED_TIER
    to_pay = checkout.signup_plan(session=session, settings=settings, tier=data.tier)
    tenant_key = identity.from_company(data.company)
    tracing.set_attributes({"tenantry.tenant_key": tenant_key, "tenantry.tier": data.tier})
    conflict = session.scalar(
        select(models.Tenant.tenant_key).where(
            (models.Tenant.tenant_key == tenant_key)
            | (func.lower(models.Tenant.company) == data.company.lower())
        )
    )
    if conflict:
        raise errors.name_unavailable()
    if session.scalar(select(models.User.id).where(models.User.email == data.email.lower())):
        raise errors.email_unavailable()
    owner_role = auth.builtin_role(session=session, name=permissions.OWNER)
    tenant = models.Tenant(
        id=uuid.uuid4(),
        tenant_key=tenant_key,
        company=data.company,
        tier=settings.UNVERIFIED_TIER if held else data.tier,
        requested_tier=data.tier if held else None,
        owner_email=data.email.lower(),
        source=models.Source.SIGNUP,
        phase=enums.Phase.PENDING,
        conditions=[],
        checkout_plan=to_pay.id if held and to_pay else None,
    )
    session.add(tenant)
    owner = models.User(
        id=uuid.uuid4(),
        tenant=tenant,
        email=data.email.lower(),
        role=owner_role,
        password_hash=security.hash_password(data.password),
    )
    session.add(owner)
    # The name first (a concurrent claim of it is a 409, not an error), then what goes with it.
    _claim(
        session=session,
        tenant=tenant,
        company=data.company,
        field_manager=settings.CR_FIELD_MANAGER,
    )
    try:
        audit.record(
            session=session,
            ctx=audit.Context(f"user:{owner.id}", ctx.request_id, ctx.client_ip),
            action="tenant.signup",
            tenant_id=tenant.id,
            resource=f"tenant:{tenant.id}",
            after={
                "company": data.company,
                "tier": tenant.tier,
                "requested_tier": tenant.requested_tier,
                "owner": owner.email,
            },
        )
        session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.SYNC_BILLING))
        session.commit()
    except Exception:  # the registry refused after the claim: give the name back
        session.rollback()
        with contextlib.suppress(kube.KubeUnavailable):
            kube.delete_tenant(tenant.tenant_key, uid=tenant.cr_uid)
        raise
    token = auth.issue_tokens(session=session, user=owner, settings=settings)
    session.commit()
    try:
        as_owner = audit.Context(f"user:{owner.id}", ctx.request_id, ctx.client_ip)
        verification.send(session=session, ctx=as_owner, settings=settings, user=owner)
    except errors.Unavailable:  # logged there; the owner asks for another link
        log.warning("signup without a verification mail", tenant_id=str(tenant.id))
    paying = (
        checkout.for_signup(session=session, settings=settings, tenant=tenant)
        if tenant.payment_pending
        else None
    )
    return schemas.SignupPublic(
        tenant=schemas.TenantPublic.model_validate(tenant),
        token=token,
        checkout_url=paying.url if paying else None,
    )


# -- listing ------------------------------------------------------------------------------------
def _encode_cursor(tenant: models.Tenant) -> str:
    raw = f"{tenant.created_at.isoformat()}|{tenant.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, ident = raw.partition("|")
        return dt.datetime.fromisoformat(created), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.InvalidInput(
            "Invalid cursor",
            "the cursor is not one this API returned",
            field="cursor",
            reason="invalid cursor",
            location="query",
        ) from exc


def list_tenants(
    *,
    session: Session,
    limit: int,
    cursor: str | None = None,
    tier: str | None = None,
    phase: str | None = None,
    lifecycle: str | None = None,
    suspended: bool | None = None,
    q: str | None = None,
) -> schemas.TenantPage:
    """Tenants oldest first, `limit` a page, with the cursor of the next page."""
    stmt: Select[Any] = select(models.Tenant).order_by(models.Tenant.created_at, models.Tenant.id)
    if tier:
        stmt = stmt.where(models.Tenant.tier == tier)
    if phase:
        stmt = stmt.where(models.Tenant.phase == phase)
    if lifecycle:
        stmt = stmt.where(models.Tenant.lifecycle == lifecycle)
    if suspended is not None:
        stmt = stmt.where(models.Tenant.suspended.is_(suspended))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            models.Tenant.company.ilike(pattern, escape="\\")
            | models.Tenant.tenant_key.ilike(pattern, escape="\\")
        )
    if cursor:
        created, ident = _decode_cursor(cursor)
        stmt = stmt.where(
            (models.Tenant.created_at > created)
            | ((models.Tenant.created_at == created) & (models.Tenant.id > ident))
        )
    rows: list[models.Tenant] = list(session.scalars(stmt.limit(limit + 1)))
    page = rows[:limit]
    return schemas.TenantPage(
        items=[schemas.TenantPublic.model_validate(t) for t in page],
        next_cursor=_encode_cursor(page[-1]) if len(rows) > limit else None,
    )


# -- changes ------------------------------------------------------------------------------------
def _view(tenant: models.Tenant) -> dict[str, Any]:
    """What the audit log shows of a tenant before and after a change."""
    return {
        "company": tenant.company,
        "tier": tenant.tier,
        "suspended": tenant.suspended,
        "lifecycle": tenant.lifecycle,
        "offboard_after": tenant.offboard_after.isoformat() if tenant.offboard_after else None,
    }


def _commit(
    session: Session, ctx: audit.Context, tenant: models.Tenant, action: str, before: dict[str, Any]
) -> models.Tenant:
    """Commit a change; if it changed anything, audit it and record the Tenant to apply."""
    after = _view(tenant)
    if after != before:
        tenant.updated_at = dt.datetime.now(dt.UTC)
        audit.record(
            session=session,
            ctx=ctx,
            action=action,
            tenant_id=tenant.id,
            resource=f"tenant:{tenant.id}",
            before=before,
            after=after,
        )
        session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.APPLY_TENANT))
        webhooks.tenant_changed(session, tenant, before, after)
    session.commit()
    return tenant


def _require_open(tenant: models.Tenant) -> None:
    if tenant.lifecycle == models.Lifecycle.OFFBOARDING:
        raise errors.Conflict("Tenant offboarded", "the tenant has been offboarded")


def update(
    *,
    session: Session,
    ctx: audit.Context,
    actor: auth.Actor,
    tenant: models.Tenant,
    data: schemas.TenantUpdate,
    known_tiers: set[str],
) -> models.Tenant:
    """Rename the tenant; platform admins may also move it to another of the `known_tiers`
    (tenants change tier through their subscription)."""
    if data.tier is not None and not actor.platform_admin:
        raise errors.Forbidden(
            "the tier follows the subscription; change the plan instead",
            permission=permissions.PLATFORM_ADMIN,
        )
    _require_open(tenant)
    before = _view(tenant)
    if data.tier is not None and data.tier != tenant.tier:
        if data.tier not in known_tiers:
            raise errors.UnknownTier(data.tier)
        tenant.tier = data.tier
    if data.tier is not None:
        tenant.requested_tier = None  # a tier the admin assigns replaces one held since signup
    if data.company is not None and data.company != tenant.company:
        taken = session.scalar(
            select(models.Tenant.id).where(
                func.lower(models.Tenant.company) == data.company.lower(),
                models.Tenant.id != tenant.id,
            )
        )
        if taken:
            raise errors.name_unavailable()
        tenant.company = data.company
    try:
        return _commit(session, ctx, tenant, "tenant.update", before)
    except IntegrityError as exc:  # a concurrent rename took the company first
        session.rollback()
        raise errors.name_unavailable() from exc


def set_suspended(
    *, session: Session, ctx: audit.Context, tenant: models.Tenant, suspended: bool
) -> models.Tenant:
    """Stop (or start again) the tenant's workload and app traffic; its data stays."""
    _require_open(tenant)
    if not suspended and tenant.lifecycle == models.Lifecycle.CLOSING:
        raise errors.Conflict("Tenant closing", "restore the tenant to resume it")
    before = _view(tenant)
    tenant.suspended = suspended
    return _commit(session, ctx, tenant, "tenant.suspend" if suspended else "tenant.resume", before)


def offboard(
    *, session: Session, ctx: audit.Context, tenant: models.Tenant, grace: dt.timedelta
) -> models.Tenant:
    """Close the tenant: suspended now, deleted when the grace period ends (idempotent)."""
    _require_open(tenant)
    if tenant.lifecycle == models.Lifecycle.CLOSING:
        return tenant
    before = _view(tenant)
    tenant.lifecycle = models.Lifecycle.CLOSING
    tenant.suspended = True
    tenant.offboard_after = dt.datetime.now(dt.UTC) + grace
    notices.queue(
        session,
        tenant,
        notices.Notice.OFFBOARDING_SCHEDULED,
        offboard_after=notices.day(tenant.offboard_after),
    )
    return _commit(session, ctx, tenant, "tenant.offboard", before)


def restore(*, session: Session, ctx: audit.Context, tenant: models.Tenant) -> models.Tenant:
    """Reopen a closing tenant within its grace period (idempotent for an active one)."""
    if tenant.lifecycle == models.Lifecycle.OFFBOARDING:
        raise errors.Conflict(
            "Grace period over",
            "the tenant has been offboarded; a new tenant can be restored from its retained "
            "data or snapshot (spec.restoreFrom)",
        )
    if tenant.lifecycle == models.Lifecycle.ACTIVE:
        return tenant
    before = _view(tenant)
    tenant.lifecycle = models.Lifecycle.ACTIVE
    tenant.offboard_after = None
    tenant.suspended = tenant.billing_state == "suspended"
    if tenant.billing_state == "canceled":
        _resubscribe(session, tenant)
    return _commit(session, ctx, tenant, "tenant.restore", before)


def _resubscribe(session: Session, tenant: models.Tenant) -> None:
    """A canceled subscription never bills again: forget it and have a new one created. Events
    of the old one are then another subscription's (ignored)."""
    replaced = tenant.stripe_subscription_id
    tenant.billing_state = "none"
    tenant.stripe_subscription_id = None
    tenant.grace_until = None
    session.add(
        models.OutboxEntry(
            tenant=tenant,
            action=models.OutboxAction.SYNC_BILLING,
            payload={"replaces": replaced} if replaced else None,
        )
    )


def offboard_expired(*, session: Session, now: dt.datetime) -> int:
    """Offboard every closing tenant whose grace period has ended (for workers.sweeper)."""
    expired = session.scalars(
        select(models.Tenant)
        .where(
            models.Tenant.lifecycle == models.Lifecycle.CLOSING.value,
            models.Tenant.offboard_after <= now,
        )
        .with_for_update(skip_locked=True)
    ).all()
    ctx = audit.Context(actor="tenantry:offboarding")
    for tenant in expired:
        before = _view(tenant)
        tenant.lifecycle = models.Lifecycle.OFFBOARDING
        audit.record(
            session=session,
            ctx=ctx,
            action="tenant.offboard_grace_ended",
            tenant_id=tenant.id,
            resource=f"tenant:{tenant.id}",
            before=before,
            after=_view(tenant),
        )
        session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.DELETE_TENANT))
    return len(expired)
