"""Passwords, access tokens of both kinds, opaque secrets and the published JWKS."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import argon2
import jwt
import pytest

from control_plane.core import security
from tenantry_core import identity, tokens

KEY = tokens.generate_signing_key()
PUBLIC = tokens.public_key_pem(KEY)


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = security.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert security.verify_password("correct horse battery", hashed)
    assert not security.verify_password("wrong", hashed)
    assert not security.verify_password("x", "not-a-hash")


def test_password_hash_meets_owasp_minimum() -> None:
    """argon2id with at least OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane."""
    used = argon2.extract_parameters(security.hash_password("correct horse battery"))
    assert used.type is argon2.Type.ID
    assert used.memory_cost >= 19 * 1024
    assert used.time_cost >= 2
    assert used.parallelism >= 1


def test_password_hashed_with_older_parameters_still_verifies() -> None:
    older = argon2.PasswordHasher().hash("correct horse battery")  # the library's default
    assert security.verify_password("correct horse battery", older)


def make_token(**overrides: object) -> str:
    principal = tokens.Principal(uuid.uuid4(), uuid.uuid4(), identity.TenantKey("acme"), "owner")
    kwargs = {
        "signing_key": KEY,
        "issuer": "tenantry",
        "audience": "tenantry",
        "expires": dt.timedelta(minutes=5),
        **overrides,
    }
    return security.create_access_token(principal, **kwargs)  # type: ignore[arg-type]


def decode(token: str) -> tokens.Principal:
    return tokens.decode_access_token(
        token, public_key=PUBLIC, issuer="tenantry", audience="tenantry"
    )


def test_token_round_trip() -> None:
    assert decode(make_token()).tenant_key == "acme"


def hmac_with_public_key() -> str:
    """Algorithm confusion: a token 'signed' with HS256 keyed by the public verification key
    (built by hand: PyJWT itself refuses to make one)."""

    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    claims = {
        "sub": str(uuid.uuid4()),
        "tid": str(uuid.uuid4()),
        "tkey": "acme",
        "iss": "tenantry",
        "aud": "tenantry",
        "iat": 1,
        "exp": 9999999999,
    }
    signing_input = part({"alg": "HS256", "typ": "JWT"}) + "." + part(claims)
    mac = hmac.new(PUBLIC.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        make_token(expires=dt.timedelta(seconds=-1)),
        make_token(audience="someone-else"),
        make_token(signing_key=tokens.generate_signing_key()),
        hmac_with_public_key(),
        jwt.encode(
            {
                "sub": str(uuid.uuid4()),
                "tid": str(uuid.uuid4()),
                "tkey": "acme",
                "iss": "tenantry",
                "aud": "tenantry",
                "exp": 9999999999,
            },
            "",
            algorithm="none",
        ),
        "not-a-token",
    ],
)
def test_bad_tokens_are_rejected(token: str) -> None:
    with pytest.raises(tokens.InvalidToken):
        decode(token)


def test_the_published_jwks_verifies_our_tokens() -> None:
    jwk = tokens.jwk(PUBLIC)
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    token = make_token()
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    verifier = jwt.PyJWK(jwk)
    claims = jwt.decode(token, verifier.key, algorithms=["EdDSA"], audience="tenantry")
    assert claims["tkey"] == "acme"


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


def test_a_selected_secret_names_its_row_and_nothing_else_does() -> None:
    row = uuid.uuid4()
    token, stored = security.new_selected_secret("inv", row)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert security.selector_of(token, "inv") == row
    assert security.selector_of(token, "ev") is None
    older, _ = security.new_secret("inv")  # no selector: found by its hash
    assert security.selector_of(older, "inv") is None
    assert security.selector_of(f"inv_{'z' * 32}_x", "inv") is None
    assert security.selector_of(f"inv_{row.hex}", "inv") is None
