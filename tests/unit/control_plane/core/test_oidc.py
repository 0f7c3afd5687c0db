"""OIDC tokens verify against the issuer's JWKS; everything else is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from control_plane.core import oidc
from tenantry_core import tokens
from tests import oidc as oidc_issuer


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


def test_an_email_without_email_verified_true_is_refused(issuer: tuple[str, Any]) -> None:
    url, key = issuer
    verifier = oidc.Verifier(issuer=oidc_issuer.ISSUER, audience="tenantry", jwks_url=url)
    for verified in (None, "true", 1):
        with pytest.raises(tokens.InvalidToken, match="no verified email"):
            verifier.claims(oidc_issuer.token(key, "a@example.com", email_verified=verified))
