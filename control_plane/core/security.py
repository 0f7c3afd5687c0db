"""Passwords (argon2id) and access tokens (JWT) for the control plane and the app plane.

An access token names the user (`sub`), the tenant (`tid`, its uuid) and the tenant's key
(`tkey`, the value of tenant_id in the app's tables): services take the tenant from here, never
from the request.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's (OWASP-aligned) parameters
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_key: str
    role: str


def create_access_token(
    principal: Principal, *, secret: str, issuer: str, audience: str, expires: dt.timedelta
) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": str(principal.user_id),
        "tid": str(principal.tenant_id),
        "tkey": principal.tenant_key,
        "role": principal.role,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + expires,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class InvalidToken(Exception):
    pass


def authenticate(token: str | None, *, secret: str, issuer: str, audience: str) -> Principal:
    """The principal of a bearer token, or a 401 problem (the same answer for every service)."""
    from control_plane.core import problems

    challenge = {"WWW-Authenticate": "Bearer"}
    if token is None:
        raise problems.Problem(401, "Unauthorized", "a bearer token is required", headers=challenge)
    try:
        return decode_access_token(token, secret=secret, issuer=issuer, audience=audience)
    except InvalidToken as exc:
        raise problems.Problem(
            401, "Unauthorized", "the bearer token is invalid or expired", headers=challenge
        ) from exc


def decode_access_token(token: str, *, secret: str, issuer: str, audience: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "sub", "tid", "tkey"]},
        )
        return Principal(
            uuid.UUID(claims["sub"]),
            uuid.UUID(claims["tid"]),
            str(claims["tkey"]),
            str(claims.get("role", "member")),
        )
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidToken(str(exc)) from exc
