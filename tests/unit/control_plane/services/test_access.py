"""Nobody grants what they do not hold, and an unknown permission is refused by name."""

from __future__ import annotations

import uuid

import pytest

from control_plane.core import permissions
from control_plane.services import access, auth, errors

ADMIN = auth.Actor(
    "user", uuid.uuid4(), uuid.uuid4(), "acme", "free", permissions.BUILTIN_ROLES["admin"]
)
PLATFORM = auth.Actor(
    "user", uuid.uuid4(), None, None, None, frozenset({"platform:admin"}), platform_admin=True
)


def test_granting_more_than_one_holds_is_forbidden_naming_what_is_missing() -> None:
    with pytest.raises(errors.Forbidden) as refused:
        access.no_escalation(
            actor=ADMIN, granted=["tenant:read", "billing:manage"], what="this role"
        )
    assert refused.value.detail == "this role would need permissions the caller does not hold"
    assert refused.value.missing == ["billing:manage"]
    access.no_escalation(actor=PLATFORM, granted=["billing:manage"], what="this role")


def test_unknown_permissions_are_invalid_input_listing_the_known_ones() -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        access.checked_permissions(
            actor=ADMIN, names=["tenant:read", "tenant:write"], field="scopes", what="a key"
        )
    assert (refused.value.title, refused.value.field) == ("Unknown permission", "scopes")
    assert refused.value.reason == "unknown permissions: tenant:write"
    assert refused.value.allowed == sorted(permissions.Permission)


def test_checked_permissions_are_parsed_sorted_and_held() -> None:
    names = ["users:read", "tenant:read"]
    granted = access.checked_permissions(actor=ADMIN, names=names, field="scopes", what="a key")
    assert granted == ["tenant:read", "users:read"]


def test_an_api_key_acts_for_its_creator_and_only_user_references_name_one() -> None:
    creator = uuid.uuid4()
    key = auth.Actor("api_key", uuid.uuid4(), None, None, None, frozenset(), creator=creator)
    assert key.person == f"user:{creator}"
    assert ADMIN.person == ADMIN.ref
    assert auth.user_of_ref(f"user:{creator}") == creator
    assert auth.user_of_ref(f"api_key:{creator}") is None
    assert auth.user_of_ref("user:not-a-uuid") is None
    assert auth.user_of_ref("anonymous") is None
