"""Passwords (argon2id), access tokens (JWT) and opaque secrets for both APIs.

Access tokens are signed by the control plane with an Ed25519 key (EdDSA) and verified with its
public key: the app plane, and every silo namespace, hold only the public key, which cannot
mint a token. The control plane publishes it as a JWKS (`/.well-known/jwks.json`).

A tenant user's access token names the user (`sub`), the tenant (`tid`, its uuid) and the
tenant's key (`tkey`, the value of tenant_id in the app's tables): services take the tenant from
here, never from the request. A platform admin's token has `adm: true` and no tenant, so the app
plane refuses it. Refresh tokens, API keys and invitations are random secrets stored as SHA-256
hashes (they carry 256 bits of entropy, so a slow hash adds nothing).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

_hasher = PasswordHasher()  # argon2id with the library's (OWASP-aligned) parameters
ALGORITHM = "EdDSA"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_DUMMY_HASH = _hasher.hash("no user has this password")


def verify_password(password: str, hashed: str | None) -> bool:
    """True if the password matches; an unknown user costs the same time as a wrong password."""
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
    except (VerifyMismatchError, InvalidHashError):
        return False


def new_secret(prefix: str) -> tuple[str, str]:
    """A new opaque secret `<prefix>_<random>` and the hash to store for it."""
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    return token, hash_secret(token)


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- signing keys -------------------------------------------------------------------------------
def generate_signing_key() -> str:
    """A new Ed25519 private key, PEM (PKCS#8)."""
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


@functools.cache
def _private_key(pem: str) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key")
    return key


def public_key_pem(private_pem: str) -> str:
    return (
        _private_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@functools.cache
def jwk(public_pem: str) -> dict[str, str]:
    """The public key as a JWK, its `kid` the RFC 7638 thumbprint."""
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    public: dict[str, str] = jwt.algorithms.OKPAlgorithm.to_jwk(key, as_dict=True)
    # RFC 7638: the required members, sorted, without white space.
    members = json.dumps({k: public[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    kid = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).decode()
    return {**public, "kid": kid.rstrip("="), "use": "sig", "alg": ALGORITHM}


def sign(claims: dict[str, Any], private_pem: str) -> str:
    """A JWT of `claims` signed with the private key, naming its key id."""
    kid = jwk(public_key_pem(private_pem))["kid"]
    return jwt.encode(claims, _private_key(private_pem), algorithm=ALGORITHM, headers={"kid": kid})


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_key: str
    role: str


def _token(
    subject: uuid.UUID,
    extra: dict[str, Any],
    *,
    signing_key: str,
    issuer: str,
    audience: str,
    expires: dt.timedelta,
) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": str(subject), "iss": issuer, "aud": audience, "iat": now, "nbf": now}
    return sign({**claims, **extra, "exp": now + expires}, signing_key)


def create_access_token(
    principal: Principal, *, signing_key: str, issuer: str, audience: str, expires: dt.timedelta
) -> str:
    """A tenant user's access token, naming the tenant and its key."""
    tenant = {
        "tid": str(principal.tenant_id),
        "tkey": principal.tenant_key,
        "role": principal.role,
    }
    return _token(
        principal.user_id,
        tenant,
        signing_key=signing_key,
        issuer=issuer,
        audience=audience,
        expires=expires,
    )


def create_admin_token(
    user_id: uuid.UUID, *, signing_key: str, issuer: str, audience: str, expires: dt.timedelta
) -> str:
    """A platform admin's access token: no tenant, so no tenant's data plane accepts it."""
    return _token(
        user_id,
        {"adm": True},
        signing_key=signing_key,
        issuer=issuer,
        audience=audience,
        expires=expires,
    )


def decode_claims(token: str, *, public_key: str, issuer: str, audience: str) -> dict[str, Any]:
    """The verified claims of one of our own access tokens (EdDSA only: never `none`, never
    an HMAC keyed with the public key)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return claims


class InvalidToken(Exception):
    pass


def authenticate(token: str | None, *, public_key: str, issuer: str, audience: str) -> Principal:
    """The principal of a bearer token, or a 401 problem (the same answer for every service)."""
    from control_plane.core import problems

    challenge = {"WWW-Authenticate": "Bearer"}
    if token is None:
        raise problems.Problem(401, "Unauthorized", "a bearer token is required", headers=challenge)
    try:
        return decode_access_token(token, public_key=public_key, issuer=issuer, audience=audience)
    except InvalidToken as exc:
        raise problems.Problem(
            401, "Unauthorized", "the bearer token is invalid or expired", headers=challenge
        ) from exc


def decode_access_token(token: str, *, public_key: str, issuer: str, audience: str) -> Principal:
    """A tenant user's token (the app plane's only kind); a platform admin's is refused."""
    claims = decode_claims(token, public_key=public_key, issuer=issuer, audience=audience)
    try:
        return Principal(
            uuid.UUID(claims["sub"]),
            uuid.UUID(claims["tid"]),
            str(claims["tkey"]),
            str(claims.get("role", "member")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(f"not a tenant user's token: {exc}") from exc
