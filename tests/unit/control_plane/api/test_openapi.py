"""The published OpenAPI document: every error as problem+json, Idempotency-Key where it is
honoured, a permission on every tenant route, and the HTTP contract operation by operation."""

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
    authenticated_only = {
        ("get", "/api/v1/auth/me"),
        ("post", "/api/v1/auth/verify-email/resend"),
        ("delete", "/api/v1/users/me"),
    }
    public = {
        ("post", "/api/v1/signup"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/refresh"),
        ("post", "/api/v1/auth/logout"),
        ("post", "/api/v1/auth/verify-email"),
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


# Every operation in the published order, under its tag: method, path (`~` is /api/v1), the
# permission it demands (x-permission) and its response codes beyond the ones every operation
# documents (400, 422, 429, 503). A route moved between modules must leave this unchanged.
CONTRACT = """
[signup]
POST   ~/signup                                          -               201 402 403 409
[auth]
POST   ~/auth/login                                      -               200 401 409
POST   ~/auth/refresh                                    -               200 401 409
POST   ~/auth/logout                                     -               204 409
GET    ~/auth/me                                         -               200 401 403 404
POST   ~/auth/verify-email                               -               200 404 409
POST   ~/auth/verify-email/resend                        -               202 401 403 404 409
[tenant admin]
GET    ~/tenants                                         platform:admin  200 401 403 404
POST   ~/tenants/{tenant_id}/suspend                     platform:admin  200 401 403 404 409
POST   ~/tenants/{tenant_id}/resume                      platform:admin  200 401 403 404 409
[tenants]
GET    ~/tenants/{tenant_id}                             tenant:read     200 401 403 404
PATCH  ~/tenants/{tenant_id}                             tenant:update   200 401 403 404 409
POST   ~/tenants/{tenant_id}/offboard                    tenant:offboard 200 401 403 404 409
POST   ~/tenants/{tenant_id}/restore                     tenant:offboard 200 401 403 404 409
GET    ~/tenants/{tenant_id}/entitlements                billing:read    200 401 403 404
POST   ~/tenants/{tenant_id}/subscription                billing:manage  202 401 402 403 404 409
GET    ~/tenants/{tenant_id}/usage                       usage:read      200 401 403 404
[users]
GET    ~/tenants/{tenant_id}/users                       users:read      200 401 403 404
PATCH  ~/tenants/{tenant_id}/users/{user_id}             users:manage    200 401 403 404 409
DELETE ~/tenants/{tenant_id}/users/{user_id}             users:manage    204 401 403 404 409
POST   ~/tenants/{tenant_id}/invitations                 users:manage    201 401 403 404 409
GET    ~/tenants/{tenant_id}/invitations                 users:read      200 401 403 404
DELETE ~/tenants/{tenant_id}/invitations/{invitation_id} users:manage    204 401 403 404 409
POST   ~/invitations/accept                              -               201 401 403 404 409
[roles]
GET    ~/tenants/{tenant_id}/roles                       users:read      200 401 403 404
POST   ~/tenants/{tenant_id}/roles                       roles:manage    201 401 403 404 409
PATCH  ~/tenants/{tenant_id}/roles/{role_id}             roles:manage    200 401 403 404 409
DELETE ~/tenants/{tenant_id}/roles/{role_id}             roles:manage    204 401 403 404 409
[api keys]
GET    ~/tenants/{tenant_id}/api-keys                    api_keys:read   200 401 403 404
POST   ~/tenants/{tenant_id}/api-keys                    api_keys:manage 201 401 403 404 409
DELETE ~/tenants/{tenant_id}/api-keys/{key_id}           api_keys:manage 204 401 403 404 409
[audit]
GET    ~/audit                                           platform:admin  200 401 403 404
GET    ~/tenants/{tenant_id}/audit                       audit:read      200 401 403 404
[tiers]
GET    ~/tiers                                           -               200
[billing]
GET    ~/plans                                           -               200
POST   ~/billing/stripe/webhook                          -               200 409
POST   ~/tenants/{tenant_id}/billing/checkout            billing:manage  201 401 403 404 409
POST   ~/tenants/{tenant_id}/billing/portal              billing:portal  201 401 403 404 409
GET    ~/tenants/{tenant_id}/billing/usage               billing:read    200 401 403 404
GET    ~/tenants/{tenant_id}/billing/upcoming            billing:read    200 401 403 404 409
[outbox]
GET    ~/outbox                                          platform:admin  200 401 403 404
POST   ~/outbox/{entry_id}/retry                         platform:admin  200 401 403 404 409
[feature flags]
GET    ~/flags                                           platform:admin  200 401 403 404
GET    ~/flags/{key}                                     platform:admin  200 401 403 404
PUT    ~/flags/{key}                                     platform:admin  200 401 403 404 409
DELETE ~/flags/{key}                                     platform:admin  204 401 403 404 409
GET    ~/tenants/{tenant_id}/overrides                   platform:admin  200 401 403 404
PUT    ~/tenants/{tenant_id}/overrides/{feature}         platform:admin  200 401 403 404 409
DELETE ~/tenants/{tenant_id}/overrides/{feature}         platform:admin  204 401 403 404 409
PUT    ~/tenants/{tenant_id}/ring                        platform:admin  200 401 403 404 409
[placement]
POST   ~/tenants/{tenant_id}/moves                       platform:admin  202 401 403 404 409
GET    ~/tenants/{tenant_id}/moves                       platform:admin  200 401 403 404
GET    ~/placement/servers                               platform:admin  200 401 403 404
POST   ~/placement/rebalance                             platform:admin  200 401 403 404 409
[backups]
GET    ~/tenants/{tenant_id}/backups                     platform:admin  200 401 403 404
POST   ~/tenants/{tenant_id}/restores                    platform:admin  202 401 403 404 409
GET    ~/tenants/{tenant_id}/restores                    platform:admin  200 401 403 404
[erasure]
POST   ~/users/{user_id}/erasure                         platform:admin  200 401 403 404 409
DELETE ~/users/me                                        -               204 401 403 404 409
[webhooks]
GET    ~/tenants/{tenant_id}/webhooks                    webhooks:manage 200 401 403 404
POST   ~/tenants/{tenant_id}/webhooks                    webhooks:manage 201 401 403 404 409
DELETE ~/tenants/{tenant_id}/webhooks/{webhook_id}       webhooks:manage 204 401 403 404 409
[auth]
GET    /.well-known/jwks.json                            -               200
[health]
GET    /healthz                                          -               200
"""
EVERYWHERE = {"400", "422", "429", "503"}


def test_the_http_contract_is_what_the_routes_declare(spec: dict[str, Any]) -> None:
    published, tag = [], None
    for method, path, operation in operations(spec):
        assert set(operation["responses"]) >= EVERYWHERE, (method, path)
        [operation_tag] = operation["tags"]
        if operation_tag != tag:
            tag = operation_tag
            published.append(f"[{tag}]")
        short = "~" + path.removeprefix("/api/v1") if path.startswith("/api/v1/") else path
        codes = sorted(set(operation["responses"]) - EVERYWHERE)
        published.append(
            " ".join([method.upper(), short, operation.get("x-permission", "-"), *codes])
        )
    expected = [" ".join(line.split()) for line in CONTRACT.strip().splitlines()]
    assert published == expected
