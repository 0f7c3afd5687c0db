"""Access tokens: only our EdDSA signature is accepted, and only a tenant user's token."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tenantry_core import bearer, identity, problems, tokens

KEY = tokens.generate_signing_key()
PUBLIC = tokens.public_key_pem(KEY)
USER, TENANT = uuid.uuid4(), uuid.uuid4()
AUDIENCE = ISSUER = "tenantry"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": str(USER),
        "tid": str(TENANT),
        "tkey": "acme",
        "role": "owner",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def signed(payload: dict[str, Any], key: str = KEY) -> str:
    return jwt.encode(payload, tokens.private_key(key), algorithm=tokens.ALGORITHM)


def forged(payload: dict[str, Any], alg: str, secret: bytes | None) -> str:
    """A token with header `alg`, HMAC-SHA256-signed with `secret` (unsigned when None)."""

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    message = f"{part({'alg': alg, 'typ': 'JWT'})}.{part(payload)}"
    if secret is None:
        return message + "."
    mac = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return message + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def decode(token: str) -> tokens.Principal:
    return tokens.decode_access_token(token, public_key=PUBLIC, issuer=ISSUER, audience=AUDIENCE)


def test_our_signature_names_the_tenant_user() -> None:
    acme = identity.TenantKey("acme")
    assert decode(signed(claims())) == tokens.Principal(USER, TENANT, acme, "owner")
    assert decode(signed(claims(role=None))).role == "member"
    carried = decode(signed(claims(perms=["data:read", "data:write"])))
    assert carried.permissions == {"data:read", "data:write"}


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (signed(claims(), key=tokens.generate_signing_key()), "another key"),
        (forged(claims(), "none", None), "alg none"),
        (forged(claims(), "HS256", PUBLIC.encode()), "HMAC keyed with the public key"),
        (signed(claims(exp=int(time.time()) - 60)), "expired"),
        (signed(claims(aud="someone-else")), "another audience"),
        (signed(claims(iss="someone-else")), "another issuer"),
        (signed(claims(exp=None)), "no expiry"),
        ("not.a.token", "garbage"),
    ],
)
def test_anything_else_is_refused(token: str, why: str) -> None:
    with pytest.raises(tokens.InvalidToken):
        decode(token)


def test_a_platform_admins_token_is_not_a_tenant_users() -> None:
    admin = signed(claims(tid=None, tkey=None, adm=True))
    assert tokens.decode_claims(admin, public_key=PUBLIC, issuer=ISSUER, audience=AUDIENCE)["adm"]
    with pytest.raises(tokens.InvalidToken, match="not a tenant user's token"):
        decode(admin)


@pytest.mark.parametrize("token", [None, "not.a.token", signed(claims(tid=None, tkey=None))])
def test_authenticate_answers_401_with_a_bearer_challenge(token: str | None) -> None:
    with pytest.raises(problems.Problem) as refused:
        bearer.authenticate(token, public_key=PUBLIC, issuer=ISSUER, audience=AUDIENCE)
    assert refused.value.status == 401
    assert refused.value.headers == {"WWW-Authenticate": "Bearer"}


def test_authenticate_returns_the_principal() -> None:
    principal = bearer.authenticate(
        signed(claims()), public_key=PUBLIC, issuer=ISSUER, audience=AUDIENCE
    )
    assert (principal.user_id, principal.tenant_key) == (USER, "acme")


def test_the_jwks_kid_is_the_rfc_7638_thumbprint() -> None:
    # RFC 8037, appendix A.2 and A.3: an Ed25519 public key and its thumbprint.
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    raw = base64.urlsafe_b64decode(x + "=")
    pem = (
        ed25519.Ed25519PublicKey.from_public_bytes(raw)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert tokens.jwk(pem) == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": x,
        "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        "use": "sig",
        "alg": "EdDSA",
    }


def test_only_an_ed25519_key_signs() -> None:
    other = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        tokens.private_key(other)
