"""Bearer tokens from an external OpenID Connect issuer, verified against its JWKS.

Configured by `OIDC_ISSUER`, `OIDC_AUDIENCE` and `OIDC_JWKS_URL`; the key set is fetched once
and again when a token names a key id we have not seen (key rotation). Only asymmetric
algorithms are accepted, so neither `alg: none` nor an HMAC signed with the public key passes.
Used by services.auth, which maps the verified email to a user.
"""

from __future__ import annotations

from typing import Any

import jwt

from tenantry_core import tokens

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA")


class Verifier:
    def __init__(self, *, issuer: str, audience: str, jwks_url: str) -> None:
        self.issuer, self.audience = issuer, audience
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims, or tokens.InvalidToken."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise tokens.InvalidToken(str(exc)) from exc
        if not claims.get("email") or claims.get("email_verified") is not True:
            raise tokens.InvalidToken("the token carries no verified email")
        return claims


def issuer_of(token: str) -> str | None:
    """The `iss` a token claims, unverified: only to choose who verifies it."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = unverified.get("iss")
    return issuer if isinstance(issuer, str) else None
