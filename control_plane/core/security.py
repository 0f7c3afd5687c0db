"""Passwords (argon2id), signing access tokens, and opaque secrets: the control plane's side.

Access tokens are signed with an Ed25519 key (EdDSA); `tenantry_core.tokens` holds the keys'
helpers and the verification every service shares (the app plane and silo namespaces hold only
the public key, which cannot mint a token). A tenant user's token names the user (`sub`), the
tenant's `tenant_id` and `tenant_key`, and the role: services take the tenant from there, never
from the request. Refresh tokens, API keys and invitations are random secrets stored as SHA-256
hashes (they carry 256 bits of entropy, so a slow hash adds nothing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any

import argon2
import jwt
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from tenantry_core import tokens

# argon2id at OWASP's recommended minimum (Password Storage Cheat Sheet: 19 MiB, 2 passes, 1
# lane) rather than argon2-cffi's default (RFC 9106 low-memory: 64 MiB, 3 passes, 4 lanes): a
# fifth of the CPU and memory a hash, so signups and sign-ins scale with cores (README,
# Figures). Hashes made with other parameters still verify: they carry their own.
PASSWORD_HASH = argon2.Parameters(
    type=argon2.Type.ID,
    version=argon2.low_level.ARGON2_VERSION,
    salt_len=16,
    hash_len=32,
    time_cost=2,
    memory_cost=19 * 1024,
    parallelism=1,
)
_hasher = argon2.PasswordHasher.from_parameters(PASSWORD_HASH)


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


def new_selected_secret(prefix: str, selector: uuid.UUID) -> tuple[str, str]:
    """A new secret `<prefix>_<selector hex>_<random>` and the hash to store for it: whoever
    checks it finds (and locks) its row by the selector, so a token used while the transaction
    that issued it is still open waits for that commit instead of missing the row."""
    return new_secret(f"{prefix}_{selector.hex}")


def selector_of(token: str, prefix: str) -> uuid.UUID | None:
    """The selector of a `new_selected_secret` token with `prefix`, or None for any other."""
    head = f"{prefix}_"
    if not token.startswith(head) or token[len(head) + 32 : len(head) + 33] != "_":
        return None
    try:
        return uuid.UUID(hex=token[len(head) : len(head) + 32])
    except ValueError:
        return None


def sign(claims: dict[str, Any], private_pem: str) -> str:
    """A JWT of `claims` signed with the private key, naming its key id."""
    kid = tokens.jwk(tokens.public_key_pem(private_pem))["kid"]
    return jwt.encode(
        claims, tokens.private_key(private_pem), algorithm=tokens.ALGORITHM, headers={"kid": kid}
    )


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
    principal: tokens.Principal,
    *,
    signing_key: str,
    issuer: str,
    audience: str,
    expires: dt.timedelta,
) -> str:
    """A tenant user's access token, naming the tenant and its key."""
    tenant = {
        tokens.CLAIM_TENANT_ID: str(principal.tenant_id),
        tokens.CLAIM_TENANT_KEY: principal.tenant_key,
        "role": principal.role,
        tokens.CLAIM_PERMISSIONS: sorted(principal.permissions),
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
