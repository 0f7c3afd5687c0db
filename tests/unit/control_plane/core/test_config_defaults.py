"""Outside local development the control plane refuses to start with a development default:
the built-in Stripe webhook secret, a missing signing key, a short first admin password."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from control_plane.core import config
from tenantry_core import tokens

KEY = tokens.generate_signing_key()
BUILT_IN = str(config.Settings.model_fields["STRIPE_WEBHOOK_SECRET"].default)


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_the_built_in_webhook_secret_is_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match="STRIPE_WEBHOOK_SECRET"):
        config.Settings(ENVIRONMENT=environment, JWT_PRIVATE_KEY=KEY)
    with pytest.raises(ValidationError, match="STRIPE_WEBHOOK_SECRET"):
        config.Settings(
            ENVIRONMENT=environment, JWT_PRIVATE_KEY=KEY, STRIPE_WEBHOOK_SECRET=BUILT_IN
        )


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_other_development_defaults_are_refused(environment: str) -> None:
    secret = "whsec_" + "s" * 40
    with pytest.raises(ValidationError, match="JWT_PRIVATE_KEY"):
        config.Settings(ENVIRONMENT=environment, STRIPE_WEBHOOK_SECRET=secret)
    with pytest.raises(ValidationError, match="FIRST_PLATFORM_ADMIN_PASSWORD"):
        config.Settings(
            ENVIRONMENT=environment,
            JWT_PRIVATE_KEY=KEY,
            STRIPE_WEBHOOK_SECRET=secret,
            FIRST_PLATFORM_ADMIN_EMAIL="admin@example.com",
            FIRST_PLATFORM_ADMIN_PASSWORD="changethis",
        )


def test_local_development_keeps_its_defaults() -> None:
    assert config.Settings(ENVIRONMENT="local").STRIPE_WEBHOOK_SECRET == BUILT_IN


def test_the_process_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "JWT_"))}
    env.update(ENVIRONMENT="production", JWT_PRIVATE_KEY=KEY, RUN_BACKGROUND_WORKERS="false")
    started = subprocess.run(
        [sys.executable, "-c", "import control_plane.main"],
        cwd=tmp_path,  # no .env
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0
    assert "STRIPE_WEBHOOK_SECRET must be set outside local development" in started.stderr
