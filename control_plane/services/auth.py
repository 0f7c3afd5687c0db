"""Who is calling: bearer credentials → an `Actor`, and the token life cycle.

Three kinds of bearer credential are accepted: our own short-lived access tokens (HS256 JWT),
API keys (`tnt_…`, looked up by hash; a key acts as the person who created it, its scopes
narrowed to what that person holds now, and dies with them) and, when configured, an OIDC
issuer's tokens (verified against its JWKS, mapped to a user by services.federation; a
tenant's users sign in through it only with the `sso` feature, services.features). The actor's
permissions are read from the database on every request, so a changed role or a revoked
key takes effect at once. Refresh tokens rotate: each is used once, and presenting a used one
revokes every token of its family. Used by api.deps (resolving the caller), api.routes.auth and
the services that hand out tokens.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from control_plane import models, schemas
from control_plane.core import config, oidc, permissions, security
from control_plane.services import audit, errors, features, federation
from tenantry_core import identity, tokens

API_KEY_PREFIX = "tnt"
REFRESH_PREFIX = "rt"


@dataclass(frozen=True)
class Actor:
    """An authenticated caller, with the permissions it holds right now."""

    kind: str  # "user" | "api_key"
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    tenant_key: str | None
    tier: str | None
    permissions: frozenset[str]
    platform_admin: bool = False
    role: str | None = None
    creator: uuid.UUID | None = None  # an API key's: the user it acts for

    @property
    def ref(self) -> str:
        """How audit entries and idempotency records name the actor."""
        return f"{self.kind}:{self.id}"

    @property
    def person(self) -> str:
        """The user behind the actor: itself, or the one an API key acts for."""
        return f"user:{self.creator}" if self.creator else self.ref

    def can(self, permission: str) -> bool:
        return self.platform_admin or permission in self.permissions


def actor_for_user(user: models.User) -> Actor:
    if user.is_platform_admin:
        return Actor(
            "user",
            user.id,
            None,
            None,
            None,
            frozenset({permissions.PLATFORM_ADMIN}),
            platform_admin=True,
            role="platform-admin",
        )
    assert user.tenant is not None
    assert user.role is not None
    return Actor(
        "user",
        user.id,
        user.tenant_id,
        user.tenant.tenant_key,
        user.tenant.tier,
        frozenset(user.role.permissions),
        role=user.role.name,
    )


# A user with their tenant, role and its grants: what `actor_for_user` reads, in one query.
_WHOLE_USER = (
    joinedload(models.User.tenant),
    joinedload(models.User.role).joinedload(models.Role.grants),
)


def resolve(
    *,
    session: Session,
    ctx: audit.Context,
    token: str,
    settings: config.Settings,
    verifier: oidc.Verifier | None,
) -> Actor:
    """The actor a bearer credential stands for, or errors.Unauthorized (`ctx`: where the
    request comes from, for auditing an OIDC identity's link)."""
    if token.startswith(f"{API_KEY_PREFIX}_"):
        return _api_key_actor(session, token)
    if verifier is not None and oidc.issuer_of(token) == verifier.issuer:
        try:
            claims = verifier.claims(token)
        except tokens.InvalidToken as exc:
            raise errors.Unauthorized("the OIDC token is invalid or expired") from exc
        member = federation.user_for(
            session=session, ctx=ctx, issuer=verifier.issuer, claims=claims
        )
        if member.tenant_id is not None and not member.is_platform_admin:
            features.require(tenant_id=member.tenant_id, feature=features.SSO)
        return actor_for_user(member)
    try:
        claims = tokens.decode_claims(
            token,
            public_key=config.public_key(settings),
            issuer=settings.JWT_ISSUER,
            audience=settings.JWT_AUDIENCE,
        )
        user = session.get(models.User, uuid.UUID(str(claims["sub"])), options=_WHOLE_USER)
    except (tokens.InvalidToken, ValueError) as exc:
        raise errors.Unauthorized("the bearer token is invalid or expired") from exc
    if user is None or (claims.get("tid") and str(user.tenant_id) != claims["tid"]):
        raise errors.Unauthorized("the bearer token's user no longer exists")
    return actor_for_user(user)


def user_of_ref(ref: str) -> uuid.UUID | None:
    """The user id in a `user:<id>` reference (None for any other actor)."""
    kind, _, rest = ref.partition(":")
    try:
        return uuid.UUID(rest) if kind == "user" else None
    except ValueError:
        return None


def _api_key_actor(session: Session, token: str) -> Actor:
    now = dt.datetime.now(dt.UTC)
    key = session.scalar(
        select(models.ApiKey).where(models.ApiKey.key_hash == security.hash_secret(token))
    )
    if key is None or key.revoked_at is not None or (key.expires_at and key.expires_at <= now):
        raise errors.Unauthorized("the API key is invalid, expired or revoked")
    tenant = session.get(models.Tenant, key.tenant_id)
    assert tenant is not None
    creator_id = user_of_ref(key.created_by)
    creator = session.get(models.User, creator_id) if creator_id else None
    if creator is None or not (creator.is_platform_admin or creator.tenant_id == tenant.id):
        raise errors.Unauthorized("the API key's creator is no longer a member of its tenant")
    held = None if creator.is_platform_admin else actor_for_user(creator).permissions
    if key.last_used_at is None or now - key.last_used_at > dt.timedelta(minutes=1):
        session.execute(
            update(models.ApiKey).where(models.ApiKey.id == key.id).values(last_used_at=now)
        )
        session.commit()
    return Actor(
        "api_key",
        key.id,
        tenant.id,
        tenant.tenant_key,
        tenant.tier,
        permissions.key_permissions(key.scopes, held),
        creator=creator.id,
    )


# -- tokens ------------------------------------------------------------------------------------
def issue_tokens(
    *,
    session: Session,
    user: models.User,
    settings: config.Settings,
    family: uuid.UUID | None = None,
) -> schemas.Token:
    """A fresh access token and a refresh token of `family` (a new family at sign-in)."""
    expires = dt.timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    jwt_args = {
        "signing_key": config.signing_key(settings),
        "issuer": settings.JWT_ISSUER,
        "audience": settings.JWT_AUDIENCE,
        "expires": expires,
    }
    if user.is_platform_admin:
        access = security.create_admin_token(user.id, **jwt_args)  # type: ignore[arg-type]
    else:
        assert user.tenant is not None
        assert user.role is not None
        principal = tokens.Principal(
            user.id,
            user.tenant.id,
            identity.TenantKey(user.tenant.tenant_key),
            user.role.name,
            permissions.data_permissions(user.role.permissions),
        )
        access = security.create_access_token(principal, **jwt_args)  # type: ignore[arg-type]
    refresh, refresh_hash = security.new_secret(REFRESH_PREFIX)
    session.add(
        models.RefreshToken(
            id=uuid.uuid4(),
            family_id=family or uuid.uuid4(),
            user_id=user.id,
            token_hash=refresh_hash,
            expires_at=dt.datetime.now(dt.UTC)
            + dt.timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS),
        )
    )
    return schemas.Token(
        access_token=access,
        expires_in=int(expires.total_seconds()),
        refresh_token=refresh,
    )


def _refuse_offboarded(user: models.User) -> None:
    """No new sign-in for a tenant that is being or has been offboarded: its name may soon be
    someone else's. (A tenant closing within its grace period can still sign in to restore.)"""
    if user.tenant is not None and user.tenant.lifecycle == models.Lifecycle.OFFBOARDING:
        raise errors.Unauthorized("the tenant of this account is offboarded")


def login(
    *, session: Session, settings: config.Settings, ctx: audit.Context, email: str, password: str
) -> schemas.Token:
    """Email and password → a new token pair (a new refresh family); success and failure are
    audited (a failure under the account's tenant, so its admins see guessing)."""
    user = session.scalar(select(models.User).where(models.User.email == email.lower()))
    if not security.verify_password(password, user.password_hash if user else None):
        audit.record(
            session=session,
            ctx=ctx,
            action="auth.login_failed",
            tenant_id=user.tenant_id if user else None,
            resource=f"user:{user.id}" if user else "user:unknown",
        )
        session.commit()
        raise errors.Unauthorized("wrong email or password")
    assert user is not None
    _refuse_offboarded(user)
    user.password_signed_in_at = dt.datetime.now(dt.UTC)
    issued = issue_tokens(session=session, user=user, settings=settings)
    audit.record(
        session=session,
        ctx=audit.Context(f"user:{user.id}", ctx.request_id, ctx.client_ip),
        action="auth.login",
        tenant_id=user.tenant_id,
        resource=f"user:{user.id}",
    )
    session.commit()
    return issued


def rotate(
    *, session: Session, token: str, settings: config.Settings, ctx: audit.Context
) -> schemas.Token:
    """Use up a refresh token for a new pair; a reused one revokes its whole family."""
    now = dt.datetime.now(dt.UTC)
    row = session.scalar(
        select(models.RefreshToken)
        .where(models.RefreshToken.token_hash == security.hash_secret(token))
        .with_for_update()
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise errors.Unauthorized("the refresh token is invalid, expired or revoked")
    as_user = audit.Context(f"user:{row.user_id}", ctx.request_id, ctx.client_ip)
    resource = f"refresh_token_family:{row.family_id}"
    tenant_id = _tenant_of(session, row.user_id)
    if row.used_at is not None:
        _revoke_family(session, row.family_id, now)
        audit.record(
            session=session,
            ctx=as_user,
            action="auth.refresh_token_reused",
            tenant_id=tenant_id,
            resource=resource,
        )
        session.commit()
        raise errors.Unauthorized("the refresh token was already used; its family is revoked")
    row.used_at = now
    user = session.get(models.User, row.user_id)
    assert user is not None
    _refuse_offboarded(user)
    issued = issue_tokens(session=session, user=user, settings=settings, family=row.family_id)
    audit.record(
        session=session, ctx=as_user, action="auth.refresh", tenant_id=tenant_id, resource=resource
    )
    session.commit()
    return issued


def _revoke_family(session: Session, family: uuid.UUID, now: dt.datetime) -> None:
    session.execute(
        update(models.RefreshToken)
        .where(models.RefreshToken.family_id == family, models.RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def logout(*, session: Session, token: str, ctx: audit.Context) -> None:
    """Revoke the refresh token's family, if it is a live token."""
    row = session.scalar(
        select(models.RefreshToken).where(
            models.RefreshToken.token_hash == security.hash_secret(token)
        )
    )
    if row is not None and row.revoked_at is None:
        _revoke_family(session, row.family_id, dt.datetime.now(dt.UTC))
        audit.record(
            session=session,
            ctx=audit.Context(f"user:{row.user_id}", ctx.request_id, ctx.client_ip),
            action="auth.logout",
            tenant_id=_tenant_of(session, row.user_id),
            resource=f"refresh_token_family:{row.family_id}",
        )
        session.commit()


def _tenant_of(session: Session, user_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(select(models.User.tenant_id).where(models.User.id == user_id))


def ensure_platform_admin(*, session: Session, email: str, password: str) -> bool:
    """Create the first platform admin unless a user has that email; True if created."""
    if session.scalar(select(models.User.id).where(models.User.email == email.lower())):
        return False
    session.add(
        models.User(
            email=email.lower(),
            password_hash=security.hash_password(password),
            is_platform_admin=True,
        )
    )
    session.commit()
    return True


def builtin_role(*, session: Session, name: str) -> models.Role:
    role = session.scalar(
        select(models.Role).where(models.Role.tenant_id.is_(None), models.Role.name == name)
    )
    if role is None:
        raise LookupError(f"built-in role {name!r} is missing: run the migrations")
    return role
