"""Access tokens: the Ed25519 signing keys, their JWKS form, and verifying a tenant user's token.

The control plane signs access tokens (EdDSA) with its private key; the app plane and every
silo namespace hold only the public key, which cannot mint one. A tenant user's token names
the user (`sub`), the tenant's `tenant_id` (claim `tid`, the registry's UUID), its `tenant_key`
(claim `tkey`), role and the `data:*` permissions it held when the token was issued (claim
`perms`); a platform admin's has `adm: true` and no tenant, so the app plane refuses it. Used
by the control plane (keys, verification), the app plane (verification) and the local platform
(a development key).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tenantry_core import identity

ALGORITHM = "EdDSA"
CLAIM_TENANT_ID = "tid"
CLAIM_TENANT_KEY = "tkey"
CLAIM_PERMISSIONS = "perms"


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
def private_key(pem: str) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key")
    return key


@functools.cache
def public_key_pem(private_pem: str) -> str:
    return (
        private_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@functools.cache
def _verifying_key(public_pem: str) -> ed25519.Ed25519PublicKey:
    """The public key parsed once: every request's token is checked against it."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode())
    except ValueError as exc:
        raise InvalidToken(f"the verifying key is not a PEM public key: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise InvalidToken("the verifying key is not an Ed25519 public key")
    return key


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


@dataclass(frozen=True)
class Principal:
    """A tenant user, as their access token names them."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_key: identity.TenantKey
    role: str
    permissions: frozenset[str] = frozenset()  # the `data:*` ones (`tenantry_core.scopes`)


class InvalidToken(Exception):
    pass


def decode_claims(token: str, *, public_key: str, issuer: str, audience: str) -> dict[str, Any]:
    """The verified claims of one of our own access tokens (EdDSA only: never `none`, never
    an HMAC keyed with the public key)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _verifying_key(public_key),
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return claims


def decode_access_token(token: str, *, public_key: str, issuer: str, audience: str) -> Principal:
    """A tenant user's token (the app plane's only kind); a platform admin's is refused."""
    claims = decode_claims(token, public_key=public_key, issuer=issuer, audience=audience)
    try:
        return Principal(
            uuid.UUID(claims["sub"]),
            uuid.UUID(claims[CLAIM_TENANT_ID]),
            identity.TenantKey(str(claims[CLAIM_TENANT_KEY])),
            str(claims.get("role", "member")),
            frozenset(str(p) for p in claims.get(CLAIM_PERMISSIONS) or ()),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(f"not a tenant user's token: {exc}") from exc
