"""The permissions, the built-in roles and the rule against escalation (pure)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from control_plane.core import permissions
from tenantry_core import scopes

P = permissions.Permission


def test_builtin_roles_nest_and_owner_holds_every_permission() -> None:
    roles = permissions.BUILTIN_ROLES
    assert roles["viewer"] < roles["member"] < roles["admin"] < roles["owner"]
    assert roles["owner"] == frozenset(P)
    assert P.BILLING_MANAGE not in roles["admin"]
    assert all(not p.startswith("platform") for p in roles["owner"])


def test_admins_open_the_portal_and_only_owners_manage_billing() -> None:
    roles = permissions.BUILTIN_ROLES
    assert P.BILLING_PORTAL in roles["admin"]
    assert P.BILLING_PORTAL not in roles["member"]
    assert P.BILLING_MANAGE in roles["owner"]


def test_parse_names_unknown_permissions_and_escalation() -> None:
    assert permissions.parse(["tenant:read"]) == {P.TENANT_READ}
    with pytest.raises(ValueError, match="platform:admin, tenant:write"):
        permissions.parse(["tenant:write", "platform:admin", "tenant:read"])
    held = permissions.BUILTIN_ROLES["admin"]
    assert permissions.escalates(["tenant:read", "billing:manage"], held) == ["billing:manage"]
    assert permissions.escalates(permissions.BUILTIN_ROLES["member"], held) == []


def test_a_key_may_do_only_what_its_scopes_and_its_creator_both_allow() -> None:
    scopes = ["tenant:read", "audit:read"]
    viewer = permissions.BUILTIN_ROLES["viewer"]
    assert permissions.key_permissions(scopes, viewer) == {"tenant:read"}
    assert permissions.key_permissions(scopes, permissions.BUILTIN_ROLES["owner"]) == set(scopes)
    assert permissions.key_permissions(scopes, None) == set(scopes)  # a platform admin's key
    assert permissions.key_permissions(scopes, []) == set()


def test_the_app_planes_permissions_go_from_viewer_to_owner() -> None:
    roles = permissions.BUILTIN_ROLES
    data = {name: permissions.data_permissions(held) for name, held in roles.items()}
    assert data["viewer"] == {"data:read"}
    assert data["member"] == {"data:read", "data:write"}
    assert data["admin"] == data["owner"] == set(scopes.ALL)


def test_the_migrations_seed_exactly_the_built_in_roles() -> None:
    """Migration 0005's roles plus 0010's data permissions, 0017's portal and 0019's webhooks
    are today's built-in roles."""
    versions = Path(__file__).parents[4] / "control_plane" / "alembic" / "versions"
    seeded = _module(versions / "0005_identity.py").BUILTIN
    added = _module(versions / "0010_data_permissions.py").ADDED
    portal = _module(versions / "0017_billing_portal.py").ADDED
    hooks = _module(versions / "0019_webhooks.py").ADDED
    assert {
        role: set(seeded[role])
        | set(added[role])
        | set(portal.get(role, []))
        | set(hooks.get(role, []))
        for role in seeded
    } == {
        role: set(held) for role, held in permissions.BUILTIN_ROLES.items()
    }


def _module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_admins_and_owners_manage_webhooks() -> None:
    roles = permissions.BUILTIN_ROLES
    assert P.WEBHOOKS_MANAGE in roles["admin"]
    assert P.WEBHOOKS_MANAGE in roles["owner"]
    assert P.WEBHOOKS_MANAGE not in roles["member"]
