"""Control-plane building blocks: slugs, passwords, tokens, settings."""

import datetime as dt
import uuid

import jwt
import pytest
from pydantic import ValidationError

from control_plane.core import config, security
from control_plane.services import tenants

SECRET = "s" * 40


@pytest.mark.parametrize(
    ("company", "slug"),
    [
        ("Acme, Inc.", "acme-inc"),
        ("  Über  Café ", "uber-cafe"),
        ("42 Labs", "t-42-labs"),
        ("!!!", "t"),
        ("x" * 80, "x" * 40),
        ("a" * 39 + " b", "a" * 39),
    ],
)
def test_slugify(company: str, slug: str) -> None:
    assert tenants.slugify(company) == slug


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = security.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert security.verify_password("correct horse battery", hashed)
    assert not security.verify_password("wrong", hashed)
    assert not security.verify_password("x", "not-a-hash")


def make_token(**overrides: object) -> str:
    principal = security.Principal(uuid.uuid4(), uuid.uuid4(), "acme", "owner")
    kwargs = {
        "secret": SECRET,
        "issuer": "tenantry",
        "audience": "tenantry",
        "expires": dt.timedelta(minutes=5),
        **overrides,
    }
    return security.create_access_token(principal, **kwargs)  # type: ignore[arg-type]


def decode(token: str) -> security.Principal:
    return security.decode_access_token(
        token, secret=SECRET, issuer="tenantry", audience="tenantry"
    )


def test_token_round_trip() -> None:
    assert decode(make_token()).tenant_key == "acme"


@pytest.mark.parametrize(
    "token",
    [
        make_token(expires=dt.timedelta(seconds=-1)),
        make_token(audience="someone-else"),
        make_token(secret="t" * 40),
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
    with pytest.raises(security.InvalidToken):
        decode(token)


def test_settings_refuse_default_secret_outside_local() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        config.Settings(ENVIRONMENT="production", SECRET_KEY="changethis")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        config.Settings(ENVIRONMENT="staging", SECRET_KEY="short")
    with pytest.raises(ValidationError, match="STRIPE_WEBHOOK_SECRET"):
        config.Settings(ENVIRONMENT="production", SECRET_KEY=SECRET)
    production = config.Settings(
        ENVIRONMENT="production", SECRET_KEY=SECRET, STRIPE_WEBHOOK_SECRET="whsec_" + SECRET
    )
    assert production.SECRET_KEY == SECRET
    assert config.Settings(ENVIRONMENT="local").SECRET_KEY == "changethis"
