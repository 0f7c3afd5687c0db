"""Settings refuse missing or default secrets outside local development."""

import pytest
from pydantic import ValidationError

from control_plane.core import config
from tenantry_core import tokens

KEY = tokens.generate_signing_key()
PUBLIC = tokens.public_key_pem(KEY)
SECRET = "s" * 40


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


def test_api_keys_expire_by_default_within_the_maximum() -> None:
    local = config.Settings(ENVIRONMENT="local")
    assert (local.API_KEY_DEFAULT_DAYS, local.API_KEY_MAX_DAYS) == (90, 365)
    with pytest.raises(ValidationError, match="API_KEY_DEFAULT_DAYS must not exceed"):
        config.Settings(API_KEY_DEFAULT_DAYS=400, API_KEY_MAX_DAYS=365)
