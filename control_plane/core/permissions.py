"""What a principal may do: the permissions, the built-in roles, and the rules against escalation.

Routes declare the permission they need (`api.deps.Authorize`); roles are rows of `roles` and
`role_permissions`, seeded with the built-in roles below, and tenants may add their own. The
`data:*` permissions are the app plane's (`tenantry_core.scopes`): viewers read, members also
write, admins and owners also delete and export. Pure: used by the services, the routes and the
authorization test matrix.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from tenantry_core import scopes


class Permission(enum.StrEnum):
    TENANT_READ = "tenant:read"
    TENANT_UPDATE = "tenant:update"
    TENANT_OFFBOARD = "tenant:offboard"  # close the account, and restore it within the grace
    BILLING_READ = "billing:read"
    BILLING_MANAGE = "billing:manage"  # plan changes, Checkout, the whole customer portal
    BILLING_PORTAL = "billing:portal"  # the portal's payment methods and invoices
    USAGE_READ = "usage:read"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"  # invite, change roles, remove
    ROLES_MANAGE = "roles:manage"
    API_KEYS_READ = "api_keys:read"
    API_KEYS_MANAGE = "api_keys:manage"
    AUDIT_READ = "audit:read"
    WEBHOOKS_MANAGE = "webhooks:manage"  # register, list and remove webhook endpoints
    DATA_READ = scopes.DATA_READ
    DATA_WRITE = scopes.DATA_WRITE
    DATA_DELETE = scopes.DATA_DELETE
    DATA_EXPORT = scopes.DATA_EXPORT


# Platform-wide actions no tenant role can hold: every tenant, tiers, plans, suspension.
PLATFORM_ADMIN = "platform:admin"

_VIEWER = frozenset(
    {
        Permission.TENANT_READ,
        Permission.BILLING_READ,
        Permission.USAGE_READ,
        Permission.USERS_READ,
        Permission.DATA_READ,
    }
)
_MEMBER = _VIEWER | {Permission.API_KEYS_READ, Permission.API_KEYS_MANAGE, Permission.DATA_WRITE}
_ADMIN = _MEMBER | {
    Permission.BILLING_PORTAL,
    Permission.DATA_DELETE,
    Permission.DATA_EXPORT,
    Permission.TENANT_UPDATE,
    Permission.USERS_MANAGE,
    Permission.ROLES_MANAGE,
    Permission.AUDIT_READ,
    Permission.WEBHOOKS_MANAGE,
}
_OWNER = _ADMIN | {Permission.BILLING_MANAGE, Permission.TENANT_OFFBOARD}

BUILTIN_ROLES: dict[str, frozenset[Permission]] = {
    "owner": frozenset(_OWNER),
    "admin": frozenset(_ADMIN),
    "member": frozenset(_MEMBER),
    "viewer": _VIEWER,
}
OWNER = "owner"


def parse(names: Iterable[str]) -> frozenset[Permission]:
    """Permissions from their names; ValueError names the unknown ones."""
    names = list(names)
    unknown = sorted({n for n in names if n not in Permission.__members__.values()})
    if unknown:
        raise ValueError(f"unknown permissions: {', '.join(unknown)}")
    return frozenset(Permission(n) for n in names)


def escalates(granted: Iterable[str], held: Iterable[str]) -> list[str]:
    """The permissions in `granted` that the granter does not hold itself (sorted)."""
    return sorted(set(granted) - set(held))


def key_permissions(scopes: Iterable[str], held: Iterable[str] | None) -> frozenset[str]:
    """What an API key may do: its scopes that its creator still holds (`held`; None for a
    platform admin, who holds them all)."""
    return frozenset(scopes) if held is None else frozenset(scopes) & frozenset(held)


def data_permissions(held: Iterable[str]) -> frozenset[str]:
    """The app plane's permissions among `held`."""
    return frozenset(held) & frozenset(scopes.ALL)
