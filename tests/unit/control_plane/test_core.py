"""Control-plane building blocks: passwords, tokens, settings."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import jwt
import pytest
from pydantic import ValidationError

from control_plane.core import config, security
from tenantry_core import identity, tokens

KEY = tokens.generate_signing_key()
PUBLIC = tokens.public_key_pem(KEY)
SECRET = "s" * 40


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = security.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert security.verify_password("correct horse battery", hashed)
    assert not security.verify_password("wrong", hashed)
    assert not security.verify_password("x", "not-a-hash")


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


def test_settings_refuse_missing_or_default_secrets_outside_local() -> None:
    with pytest.raises(ValidationError, match="JWT_PRIVATE_KEY"):
        config.Settings(ENVIRONMENT="production")
    with pytest.raises(ValidationError, match="not an Ed25519 private key"):
        config.Settings(ENVIRONMENT="staging", JWT_PRIVATE_KEY="changethis")
    with pytest.raises(ValidationError, match="STRIPE_WEBHOOK_SECRET"):
        config.Settings(ENVIRONMENT="production", JWT_PRIVATE_KEY=KEY)
    production = config.Settings(
        ENVIRONMENT="production", JWT_PRIVATE_KEY=KEY, STRIPE_WEBHOOK_SECRET="whsec_" + SECRET
    )
    assert config.public_key(production) == PUBLIC
    local = config.Settings(ENVIRONMENT="local")
    assert local.JWT_PRIVATE_KEY is None
    assert config.signing_key(local) == config.signing_key(local)  # one key per process


def test_the_published_jwks_verifies_our_tokens() -> None:
    jwk = tokens.jwk(PUBLIC)
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    token = make_token()
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    verifier = jwt.PyJWK(jwk)
    claims = jwt.decode(token, verifier.key, algorithms=["EdDSA"], audience="tenantry")
    assert claims["tkey"] == "acme"
