"""The permissions, the built-in roles and the rule against escalation (pure)."""

from __future__ import annotations

import pytest

from control_plane.core import permissions

P = permissions.Permission


def test_builtin_roles_nest_and_owner_holds_every_permission() -> None:
    roles = permissions.BUILTIN_ROLES
    assert roles["viewer"] < roles["member"] < roles["admin"] < roles["owner"]
    assert roles["owner"] == frozenset(P)
    assert P.BILLING_MANAGE not in roles["admin"]
    assert all(not p.startswith("platform") for p in roles["owner"])


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
