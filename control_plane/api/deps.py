"""FastAPI dependencies as Annotated aliases: session, settings, the caller and what it may do.

`CurrentActor` authenticates the bearer credential (services.auth) and counts the request
against the tenant's rate limit (`tenantry_core.gcra`); `Authorize(permission)` admits the
caller to the tenant named in the path, answering 404 for another tenant's (indistinguishable
from none) and 403 for a missing permission; `PlatformAdmin` admits platform admins only. The
authorization test matrix reads the permission each route declares through these.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import anyio
import structlog
from asgi_correlation_id import correlation_id
from fastapi import Depends, Header, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event
from sqlalchemy.orm import Session

from control_plane import models
from control_plane.api import idempotency
from control_plane.core import config, db, oidc, permissions
from control_plane.services import audit, auth, errors, tenants, tiers
from control_plane.workers import outbox
from tenantry_core import gcra, problems

_UNRESOLVED = object()


def get_session() -> Iterator[Session]:
    with db.session_factory()() as session:
        yield session


def get_tiers(request: Request) -> tiers.TierCache:
    catalog: tiers.TierCache = request.app.state.tiers
    return catalog


def get_wake(request: Request) -> Callable[[], None]:
    """Wake the outbox dispatcher after a commit that recorded intents (no-op without one)."""
    dispatcher: outbox.Dispatcher | None = request.app.state.dispatcher
    return dispatcher.wake.set if dispatcher else lambda: None


def get_loaded_tiers(
    catalog: Annotated[tiers.TierCache, Depends(get_tiers)],
) -> tiers.TierCache:
    """The tier catalog, or 503 until its first list from Kubernetes arrived."""
    if not catalog.loaded.is_set():
        raise errors.Unavailable(
            "Tiers unavailable", "the tier catalog is not loaded yet", retry_after=2
        )
    return catalog


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[config.Settings, Depends(config.get_settings)]
TiersDep = Annotated[tiers.TierCache, Depends(get_loaded_tiers)]


def get_oidc(request: Request) -> oidc.Verifier | None:
    """The OIDC issuer's verifier, None when none is configured."""
    verifier: oidc.Verifier | None = request.app.state.oidc
    return verifier


OidcDep = Annotated[oidc.Verifier | None, Depends(get_oidc)]
WakeDep = Annotated[Callable[[], None], Depends(get_wake)]


# -- the caller ---------------------------------------------------------------------------------
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOADED = "tenantry.authenticated"  # session.info: what authenticating the caller loaded


def _authenticate(request: Request, token: str, session: Session) -> auth.Actor:
    """Resolve the credential and take one request from the tenant's rate limit (blocking), in
    one transaction on `session`, committed here whatever the route then does. A read keeps
    what it loaded (the caller's tenant: `Authorize` finds it without another query); a write
    reads afresh in its own transaction."""
    settings = config.get_settings()
    verifier: oidc.Verifier | None = request.app.state.oidc
    ctx = audit.Context("anonymous", correlation_id.get(), client_ip(request))
    # The identity map holds objects weakly: keep what resolving loads for the session's life.
    loaded: list[object] = session.info.setdefault(_LOADED, [])

    def keep(_: Session, instance: object) -> None:
        loaded.append(instance)

    event.listen(session, "loaded_as_persistent", keep)
    try:
        actor = auth.resolve(
            session=session, ctx=ctx, token=token, settings=settings, verifier=verifier
        )
    finally:
        event.remove(session, "loaded_as_persistent", keep)
    decision = None
    if settings.RATE_LIMIT_ENABLED and actor.tenant_id is not None:
        limit = get_tiers(request).rate_limit(actor.tier) or settings.RATE_LIMIT_DEFAULT_PER_MINUTE
        decision = gcra.take(session.connection(), f"tenant:{actor.tenant_id}", limit)
    session.commit()
    if request.method not in _SAFE_METHODS:
        session.expire_all()
    if decision is not None:
        request.state.ratelimit = _admitted(
            decision, f"the tenant's limit of {decision.limit} requests a minute is used up"
        )
    return actor


def spend(key: str, limit: int, refusal: str, policy: str = "tenant") -> gcra.Decision:
    """Take one request from `key`'s budget of `limit` a minute, or a 429 problem (blocking)."""
    with db.engine().connect() as conn:
        decision = gcra.take(conn, key, limit, policy)
        conn.commit()
    return _admitted(decision, refusal)


def _admitted(decision: gcra.Decision, refusal: str) -> gcra.Decision:
    """The decision if it admits the request, else a 429 problem saying `refusal`."""
    if not decision.allowed:
        raise problems.Problem(429, "Too Many Requests", refusal, headers=decision.headers())
    return decision


def _authenticate_alone(request: Request, token: str) -> auth.Actor:
    """`_authenticate` on a session of its own (a request resolving its caller before the
    route's session exists)."""
    with db.session_factory()() as session:
        return _authenticate(request, token, session)


async def optional_actor(request: Request, session: Session | None = None) -> auth.Actor | None:
    """The caller, if the request carries a bearer credential (once per request; on `session`,
    the route's, when given)."""
    cached: auth.Actor | object | None = getattr(request.state, "actor", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        assert cached is None or isinstance(cached, auth.Actor)
        return cached
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    actor = None
    if scheme.lower() == "bearer" and token.strip():
        if session is None:
            actor = await anyio.to_thread.run_sync(_authenticate_alone, request, token.strip())
        else:
            actor = await anyio.to_thread.run_sync(_authenticate, request, token.strip(), session)
        structlog.contextvars.bind_contextvars(
            tenant_id=str(actor.tenant_id) if actor.tenant_id else None, actor=actor.ref
        )
    elif scheme:
        raise errors.Unauthorized("only Bearer credentials are accepted")
    request.state.actor = actor
    return actor


_bearer = HTTPBearer(auto_error=False, description="An access token, API key or OIDC token")


async def get_actor(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: SessionDep,
) -> auth.Actor:
    actor = await optional_actor(request, session)
    if actor is None:
        raise errors.Unauthorized("a bearer token is required")
    return actor


CurrentActor = Annotated[auth.Actor, Depends(get_actor)]


@dataclass(frozen=True)
class TenantAccess:
    """A caller admitted to one tenant."""

    actor: auth.Actor
    tenant: models.Tenant


class Authorize:
    """Admit the caller to the path's tenant if it holds `permission` there."""

    def __init__(self, permission: permissions.Permission) -> None:
        self.permission = permission

    def __call__(
        self, tenant_id: uuid.UUID, actor: CurrentActor, session: SessionDep
    ) -> TenantAccess:
        if not actor.platform_admin and actor.tenant_id != tenant_id:
            raise errors.NotFound("no such tenant")
        tenant = tenants.get(session=session, tenant_id=tenant_id)
        if not actor.can(self.permission):
            raise forbidden(self.permission)
        return TenantAccess(actor, tenant)


def forbidden(permission: str) -> errors.Forbidden:
    return errors.Forbidden(f"this needs the '{permission}' permission", permission=str(permission))


class RequirePlatformAdmin:
    permission = permissions.PLATFORM_ADMIN

    def __call__(self, actor: CurrentActor) -> auth.Actor:
        if not actor.platform_admin:
            raise forbidden(self.permission)
        return actor


def declared_permission(route: APIRoute) -> str | None:
    """The permission a route demands (platform admin over any tenant permission), or None."""
    found: set[str] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Authorize | RequirePlatformAdmin):
            found.add(str(dependant.call.permission))
        stack.extend(dependant.dependencies)
    if permissions.PLATFORM_ADMIN in found:
        return permissions.PLATFORM_ADMIN
    return next(iter(found), None) if len(found) <= 1 else ",".join(sorted(found))


P = permissions.Permission


def _access(permission: permissions.Permission) -> object:
    return Depends(Authorize(permission))


TenantReader = Annotated[TenantAccess, _access(P.TENANT_READ)]
TenantUpdater = Annotated[TenantAccess, _access(P.TENANT_UPDATE)]
TenantOffboarder = Annotated[TenantAccess, _access(P.TENANT_OFFBOARD)]
BillingReader = Annotated[TenantAccess, _access(P.BILLING_READ)]
BillingManager = Annotated[TenantAccess, _access(P.BILLING_MANAGE)]
BillingPortal = Annotated[TenantAccess, _access(P.BILLING_PORTAL)]
UsageReader = Annotated[TenantAccess, _access(P.USAGE_READ)]
UsersReader = Annotated[TenantAccess, _access(P.USERS_READ)]
UsersManager = Annotated[TenantAccess, _access(P.USERS_MANAGE)]
RolesManager = Annotated[TenantAccess, _access(P.ROLES_MANAGE)]
ApiKeysReader = Annotated[TenantAccess, _access(P.API_KEYS_READ)]
ApiKeysManager = Annotated[TenantAccess, _access(P.API_KEYS_MANAGE)]
AuditReader = Annotated[TenantAccess, _access(P.AUDIT_READ)]
WebhooksManager = Annotated[TenantAccess, _access(P.WEBHOOKS_MANAGE)]
PlatformAdmin = Annotated[auth.Actor, Depends(RequirePlatformAdmin())]


_NEEDS_ACTOR: dict[int, bool] = {}  # by id(route): routes live as long as the app


def _needs_actor(route: object) -> bool:
    """Whether a route authenticates its caller (so an anonymous request will be refused)."""
    if id(route) not in _NEEDS_ACTOR:
        found, stack = False, [route.dependant] if isinstance(route, APIRoute) else []
        while stack and not found:
            dependant = stack.pop()
            found = dependant.call is get_actor
            stack.extend(dependant.dependencies)
        _NEEDS_ACTOR[id(route)] = found
    return _NEEDS_ACTOR[id(route)]


# -- audit and idempotency ----------------------------------------------------------------------
async def get_audit_context(request: Request) -> audit.Context:
    actor = await optional_actor(request)
    return audit.Context(
        actor=actor.ref if actor else "anonymous",
        request_id=correlation_id.get(),
        client_ip=client_ip(request),
    )


def client_ip(request: Request) -> str | None:
    """The address the request came from (the peer of the connection)."""
    return request.client.host if request.client else None


AuditDep = Annotated[audit.Context, Depends(get_audit_context)]


async def idempotency_guard(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=idempotency.HEADER,
            description="POST and PATCH: a retry with the same key and body gets the stored "
            "response; the same key with another body is refused (422)",
            pattern=idempotency.KEY_PATTERN,
        ),
    ] = None,
) -> None:
    if idempotency_key is None or request.method not in idempotency.METHODS:
        return
    actor = await optional_actor(request)
    if actor is None and _needs_actor(request.scope.get("route")):
        return  # get_actor answers 401 next; nothing is claimed for an anonymous caller
    body = await request.body()
    settings = config.get_settings()
    request.state.idempotency = await anyio.to_thread.run_sync(
        functools.partial(
            idempotency.claim,
            db.engine(),
            actor=actor.ref if actor else idempotency.anonymous(client_ip(request)),
            key=idempotency_key,
            method=request.method,
            path=request.url.path,
            body=body,
            ttl=dt.timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
        )
    )
