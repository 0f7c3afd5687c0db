"""Bearer authentication for an HTTP service: the principal of a request's token, or a 401.

Used by the app plane (and by any service that verifies the control plane's access tokens):
one answer for every kind of bad token, with the `WWW-Authenticate: Bearer` challenge.
"""

from __future__ import annotations

from tenantry_core import problems, tokens


def authenticate(
    token: str | None, *, public_key: str, issuer: str, audience: str
) -> tokens.Principal:
    """The principal of a bearer token, or a 401 problem (the same answer for every service)."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if token is None:
        raise problems.Problem(401, "Unauthorized", "a bearer token is required", headers=challenge)
    try:
        return tokens.decode_access_token(
            token, public_key=public_key, issuer=issuer, audience=audience
        )
    except tokens.InvalidToken as exc:
        raise problems.Problem(
            401, "Unauthorized", "the bearer token is invalid or expired", headers=challenge
        ) from exc
