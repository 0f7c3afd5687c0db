"""Permissions and built-in roles, rate-limit arithmetic, token kinds, OIDC verification and the
published OpenAPI document, without a cluster or a database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from control_plane.core import oidc, permissions, security
from control_plane.services import ratelimit
from tenantry_core import tokens
from tests import oidc as oidc_issuer

P = permissions.Permission
KEY = tokens.generate_signing_key()
PUBLIC = tokens.public_key_pem(KEY)


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


@pytest.mark.parametrize("limit", [1, 5, 60, 1000])
def test_gcra_decisions(limit: int) -> None:
    step = 60 / limit
    first = ratelimit.decide(step, limit, allowed=True)
    assert (first.remaining, first.retry_after) == (limit - 1, 0)
    full = ratelimit.decide(60.0, limit, allowed=True)
    assert full.remaining == 0
    assert full.reset == 60
    refused = ratelimit.decide(60.0, limit, allowed=False)
    assert refused.retry_after == max(1, int(-(-step // 1)))
    headers = refused.headers()
    assert headers["Retry-After"] == str(refused.retry_after)
    assert headers["RateLimit-Policy"] == f'"tenant";q={limit};w=60'
    assert headers["RateLimit"] == '"tenant";r=0;t=60'


def test_admin_tokens_are_not_tenant_tokens() -> None:
    token = security.create_admin_token(
        uuid.uuid4(), signing_key=KEY, issuer="i", audience="a", expires=dt.timedelta(minutes=1)
    )
    assert tokens.decode_claims(token, public_key=PUBLIC, issuer="i", audience="a")["adm"]
    with pytest.raises(tokens.InvalidToken, match="not a tenant user's token"):
        tokens.decode_access_token(token, public_key=PUBLIC, issuer="i", audience="a")


def test_opaque_secrets_are_stored_as_their_hash() -> None:
    token, hashed = security.new_secret("tnt")
    assert token.startswith("tnt_")
    assert len(token) > 40
    assert hashed == security.hash_secret(token) != token
    assert security.new_secret("tnt")[0] != token
    assert not security.verify_password("anything", None)  # unknown user: same cost, False


# -- OIDC ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[str, Any]]:
    key = oidc_issuer.new_key()
    with oidc_issuer.serve_key_set(key) as url:
        yield url, key


def test_oidc_tokens_verify_against_the_jwks(issuer: tuple[str, Any]) -> None:
    url, key = issuer
    verifier = oidc.Verifier(issuer=oidc_issuer.ISSUER, audience="tenantry", jwks_url=url)
    email = "Someone@Example.com"
    good = oidc_issuer.token(key, email)
    assert oidc.issuer_of(good) == oidc_issuer.ISSUER
    assert verifier.claims(good)["email"] == email
    other_key = oidc_issuer.new_key()
    now = dt.datetime.now(dt.UTC)
    unsigned = {"iss": oidc_issuer.ISSUER, "aud": "tenantry", "sub": "x", "exp": 9e9}
    refused = {
        "expired": oidc_issuer.token(key, email, exp=now - dt.timedelta(seconds=5)),
        "wrong audience": oidc_issuer.token(key, email, aud="someone-else"),
        "wrong issuer": oidc_issuer.token(key, email, iss="https://evil.example.com"),
        "unverified email": oidc_issuer.token(key, email, email_verified=False),
        "another key": oidc_issuer.token(other_key, email),
        "unknown kid": oidc_issuer.token(other_key, email, kid="k2"),
        "alg none": jwt.encode(unsigned, "", algorithm="none", headers={"kid": oidc_issuer.KID}),
        "hmac": jwt.encode(unsigned, "k" * 32, algorithm="HS256", headers={"kid": oidc_issuer.KID}),
    }
    accepted = []
    for why, token in refused.items():
        try:
            verifier.claims(token)
            accepted.append(why)
        except tokens.InvalidToken:
            pass
    assert accepted == []


# -- the published document ---------------------------------------------------------------------
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
