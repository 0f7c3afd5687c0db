"""The published OpenAPI document: every error as problem+json, Idempotency-Key where it is
honoured, a permission on every tenant route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from control_plane.core import permissions

P = permissions.Permission


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    from control_plane import main

    return dict(main.create_app().openapi())


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_error_is_documented_as_problem_json(spec: dict[str, Any]) -> None:
    assert "Problem" in spec["components"]["schemas"]
    for method, path, operation in operations(spec):
        for code, response in operation["responses"].items():
            if code[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (method, path)
        if operation.get("security"):
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)


def test_idempotency_key_is_offered_on_post_and_patch_only(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        names = {p["name"] for p in operation.get("parameters", [])}
        if path.startswith("/api/v1/"):
            assert ("Idempotency-Key" in names) == (method in ("post", "patch")), (method, path)


def test_every_tenant_route_declares_its_permission(spec: dict[str, Any]) -> None:
    """A route added without an authorization dependency fails here, before it ships."""
    authenticated_only = {("get", "/api/v1/auth/me")}
    public = {
        ("post", "/api/v1/signup"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/refresh"),
        ("post", "/api/v1/auth/logout"),
        ("post", "/api/v1/invitations/accept"),
        ("get", "/api/v1/tiers"),
        ("get", "/api/v1/plans"),
        ("post", "/api/v1/billing/stripe/webhook"),
        ("get", "/healthz"),
        ("get", "/.well-known/jwks.json"),
    }
    for method, path, operation in operations(spec):
        if (method, path) in public:
            assert not operation.get("security"), (method, path)
        elif (method, path) in authenticated_only:
            assert operation.get("security")
            assert "x-permission" not in operation
        else:
            assert operation.get("security"), (method, path)
            permission = operation["x-permission"]
            assert permission == permissions.PLATFORM_ADMIN or permission in set(P), permission
            if "{tenant_id}" in path and permission != permissions.PLATFORM_ADMIN:
                assert path.startswith("/api/v1/tenants/{tenant_id}")
