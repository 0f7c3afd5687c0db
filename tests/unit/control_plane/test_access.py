"""Permissions and built-in roles, rate-limit arithmetic, token kinds, OIDC verification and the
published OpenAPI document, without a cluster or a database."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from control_plane.core import oidc, permissions, security
from control_plane.services import ratelimit

P = permissions.Permission
KEY = security.generate_signing_key()
PUBLIC = security.public_key_pem(KEY)


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
    assert security.decode_claims(token, public_key=PUBLIC, issuer="i", audience="a")["adm"]
    with pytest.raises(security.InvalidToken, match="not a tenant user's token"):
        security.decode_access_token(token, public_key=PUBLIC, issuer="i", audience="a")


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
    """A locally generated RSA key set served over HTTP like an issuer's jwks_uri."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", key
    server.shutdown()


def oidc_token(key: Any, kid: str = "k1", alg: str = "RS256", **overrides: Any) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": "https://idp.example.com",
        "aud": "tenantry",
        "sub": "abc",
        "email": "Someone@Example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + dt.timedelta(minutes=5),
        **overrides,
    }
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def test_oidc_tokens_verify_against_the_jwks(issuer: tuple[str, Any]) -> None:
    url, key = issuer
    verifier = oidc.Verifier(issuer="https://idp.example.com", audience="tenantry", jwks_url=url)
    good = oidc_token(key)
    assert oidc.issuer_of(good) == "https://idp.example.com"
    assert verifier.claims(good)["email"] == "Someone@Example.com"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    refused = {
        "expired": oidc_token(key, exp=now - dt.timedelta(seconds=5)),
        "wrong audience": oidc_token(key, aud="someone-else"),
        "wrong issuer": oidc_token(key, iss="https://evil.example.com"),
        "unverified email": oidc_token(key, email_verified=False),
        "another key": oidc_token(other_key),
        "unknown kid": oidc_token(other_key, kid="k2"),
        "alg none": jwt.encode(
            {"iss": "https://idp.example.com", "aud": "tenantry", "sub": "x", "exp": 9e9},
            "",
            algorithm="none",
            headers={"kid": "k1"},
        ),
        "hmac with the public key": jwt.encode(
            {"iss": "https://idp.example.com", "aud": "tenantry", "sub": "x", "exp": 9e9},
            "k" * 32,
            algorithm="HS256",
            headers={"kid": "k1"},
        ),
    }
    accepted = []
    for why, token in refused.items():
        try:
            verifier.claims(token)
            accepted.append(why)
        except security.InvalidToken:
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
