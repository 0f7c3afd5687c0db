"""Who is calling the app plane and what they may do with their tenant's data.

- An access token, verified with the control plane's public key, names the user and the tenant.
  The shared app also requires the user to be one of the tenant's principals now
  (`tenantry.principals`, which the control plane publishes as users, roles and keys change) and
  takes their `data:*` permissions from there: a removed or demoted user loses access as the
  change commits, whatever tokens they still hold.
- An API key (`tnt_…`) is looked up by its hash in the same table: it acts with its scopes,
  narrowed to what its creator holds now; a revoked key or one whose creator left is gone.
- A silo tenant's dedicated app cannot see the pool: it accepts access tokens only, with the
  permissions they carry, until they expire (the control plane's ACCESS_TOKEN_EXPIRE_MINUTES).
- Every request of the shared app spends one from its tenant's budget: the Tier's
  `appRateLimitPerMinute` (`tenantry.tier_limits`), a GCRA in the pool shared by all replicas.
  Past it: 429 with Retry-After.
Used by app_plane.main's route dependencies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from app_plane import data, settings
from tenantry_core import bearer, gcra, problems, routing

API_KEY_PREFIX = "tnt_"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_PRINCIPAL = f"""
    SELECT p.id, p.kind, p.tenant_id, p.tenant_key, p.permissions, l.requests_per_minute
      FROM {routing.PRINCIPALS_TABLE} p
      LEFT JOIN {routing.ROUTING_TABLE} t ON t.{routing.TENANT_COLUMN} = p.tenant_key
      LEFT JOIN {routing.TIER_LIMITS_TABLE} l ON l.tier = t.tier
     WHERE (p.expires_at IS NULL OR p.expires_at > now()) AND """
_USER = sa.text(
    _PRINCIPAL + "p.kind = 'user' AND p.id = :id AND p.tenant_id = :tid AND p.tenant_key = :key"
)
_KEY = sa.text(_PRINCIPAL + "p.kind = 'api_key' AND p.key_hash = :hash")


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its tenant, what it may do there, and its budget's state."""

    tenant_id: str
    tenant_key: str
    permissions: frozenset[str]
    ratelimit: gcra.Decision | None = None
    principal_id: str = ""  # the user or API key (its id in tenantry.principals)
    principal_kind: str = "user"


def _refused(detail: str) -> problems.Problem:
    return problems.Problem(401, "Unauthorized", detail, headers=_CHALLENGE)


def authenticate(credential: str | None) -> Caller:
    """The caller of a request with this bearer credential, or a 401/429 problem."""
    cfg = settings.get_settings()
    if credential is None:
        raise _refused("a bearer token is required")
    if credential.startswith(API_KEY_PREFIX):
        if cfg.dedicated:
            raise _refused("API keys are accepted by the shared app plane, not a dedicated one")
        return _admit(_KEY, {"hash": hashlib.sha256(credential.encode()).hexdigest()}, "key")
    principal = bearer.authenticate(
        credential,
        public_key=cfg.JWT_PUBLIC_KEY,
        issuer=cfg.JWT_ISSUER,
        audience=cfg.JWT_AUDIENCE,
    )
    if cfg.dedicated:
        return Caller(
            str(principal.tenant_id),
            principal.tenant_key,
            principal.permissions,
            principal_id=str(principal.user_id),
        )
    params = {"id": principal.user_id, "tid": principal.tenant_id, "key": principal.tenant_key}
    return _admit(_USER, params, "token")


def _admit(query: sa.TextClause, params: dict[str, object], what: str) -> Caller:
    cfg = settings.get_settings()
    # Autocommit: the lookup and the spend are one statement each, no BEGIN or COMMIT between.
    with data.pool_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(query, params).one_or_none()
        if row is None:
            raise _refused(f"the {what} no longer gives access to a tenant")
        decision = None
        if cfg.TENANTRY_RATE_LIMIT_ENABLED:
            limit = row.requests_per_minute or cfg.TENANTRY_RATE_LIMIT_DEFAULT_PER_MINUTE
            decision = gcra.take(
                conn,
                f"tenant:{row.tenant_key}",
                limit,
                "app",
                table=routing.RATE_LIMITS_TABLE,
            )
    if decision is not None and not decision.allowed:
        raise problems.Problem(
            429,
            "Too Many Requests",
            f"the tenant's limit of {decision.limit} app requests a minute is used up",
            headers=decision.headers(),
        )
    return Caller(
        str(row.tenant_id),
        row.tenant_key,
        frozenset(row.permissions),
        decision,
        principal_id=str(row.id),
        principal_kind=row.kind,
    )


def require(caller: Caller, permission: str) -> None:
    """A 403 problem unless the caller holds `permission`."""
    if permission not in caller.permissions:
        raise problems.Problem(
            403,
            "Forbidden",
            f"this needs the '{permission}' permission",
            type_="https://tenantry.dev/problems/permission",
            permission=permission,
        )
