"""The control plane's one Settings class, read from the environment (and `.env`).

Outside `ENVIRONMENT=local` it refuses missing or default secrets (the token signing key, the
Stripe webhook secret, a short first admin password), so a deployment cannot start with a
secret everybody knows.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenantry_core import tokens


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    ENVIRONMENT: Literal["local", "staging", "production"] = "local"
    PROJECT_NAME: str = "Tenantry"
    API_V1_STR: str = "/api/v1"
    DATABASE_URL: str = "postgresql+psycopg://postgres@127.0.0.1:5432/tenantry"
    # The Ed25519 private key (PEM) access tokens are signed with; the app plane gets only the
    # public key. Required outside local development, where a key per process is generated.
    JWT_PRIVATE_KEY: SecretStr | None = None
    # Access tokens are short-lived; refresh tokens rotate (a reused one revokes its family).
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=15, ge=1, le=24 * 60)
    REFRESH_TOKEN_EXPIRE_DAYS: int = Field(default=30, ge=1, le=365)
    JWT_ISSUER: str = "tenantry"
    JWT_AUDIENCE: str = "tenantry"
    # An external OpenID Connect issuer whose bearer tokens are accepted (users by email).
    OIDC_ISSUER: str | None = None
    OIDC_AUDIENCE: str | None = None
    OIDC_JWKS_URL: str | None = None
    # The platform admin created at start-up when no user has that email.
    FIRST_PLATFORM_ADMIN_EMAIL: str | None = None
    FIRST_PLATFORM_ADMIN_PASSWORD: str | None = None
    INVITATION_EXPIRE_HOURS: int = Field(default=72, ge=1)
    # The page a mailed invitation opens (the token follows as `?token=`): the owner of a
    # Tenant made with kubectl is invited by mail.
    INVITATION_URL: str = "http://localhost:8000/accept-invitation"
    # API keys expire: after the default when none is asked for, never after the maximum.
    API_KEY_DEFAULT_DAYS: int = Field(default=90, ge=1)
    API_KEY_MAX_DAYS: int = Field(default=365, ge=1)
    # How long an offboarded tenant stays suspended and restorable before it is deleted.
    OFFBOARD_GRACE_SECONDS: int = Field(default=30 * 24 * 3600, ge=0)
    # Per-tenant request limits come from the Tier; this one applies while a tier is unknown.
    RATE_LIMIT_ENABLED: bool = True
    RATE_LIMIT_DEFAULT_PER_MINUTE: int = Field(default=600, ge=1)
    # Sign-in attempts per account and client address a minute, against password guessing.
    LOGIN_ATTEMPTS_PER_MINUTE: int = Field(default=20, ge=1)
    # Failed sign-ins a client address may make before each further one doubles its wait.
    LOGIN_FREE_FAILURES: int = Field(default=25, ge=1)
    LOGIN_MAX_DELAY_SECONDS: int = Field(default=900, ge=1)
    IDEMPOTENCY_TTL_HOURS: int = Field(default=24, ge=1)
    # Tiers a visitor may choose at self-service signup (others are sold, not self-served).
    SIGNUP_TIERS: list[str] = ["free", "standard", "pro", "enterprise"]
    # Signup attempts a minute from one client address (an IPv6 /64), and from all together.
    SIGNUP_PER_CLIENT_PER_MINUTE: int = Field(default=30, ge=1)
    SIGNUP_GLOBAL_PER_MINUTE: int = Field(default=120, ge=1)
    # A signup on another tier runs on this one until its owner verifies their email.
    UNVERIFIED_TIER: str = "free"
    # The one-time email verification tokens: how long each is valid, how many resends a user
    # may ask for a minute, and the page the mailed link opens (the token follows as `?token=`).
    EMAIL_VERIFY_EXPIRE_HOURS: int = Field(default=24, ge=1)
    EMAIL_VERIFY_RESENDS_PER_MINUTE: int = Field(default=1, ge=1)
    EMAIL_VERIFY_URL: str = "http://localhost:8000/verify-email"
    # Outgoing mail (integrations.mailer); no SMTP_HOST: nothing is sent (a warning is logged).
    SMTP_HOST: str | None = None
    SMTP_PORT: int = Field(default=587, ge=1, le=65535)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: SecretStr | None = None
    SMTP_STARTTLS: bool = True
    MAIL_FROM: str = "Tenantry <no-reply@tenantry.localhost>"
    OUTBOX_POLL_SECONDS: float = 1.0
    # Failed attempts (with backoff) before an outbox entry becomes a dead letter.
    OUTBOX_MAX_ATTEMPTS: int = Field(default=10, ge=1)
    CR_FIELD_MANAGER: str = "tenantry-control-plane"
    # Tenant webhooks: endpoints are https to public addresses; this also admits http (and
    # https) to a loopback address, for the local platform and tests. Refused outside local.
    WEBHOOK_ALLOW_LOOPBACK: bool = False
    WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    # Stripe: the webhook signing secret, how long a past-due tenant keeps working.
    STRIPE_WEBHOOK_SECRET: str = "whsec_local_development_only"  # noqa: S105 - refused below
    BILLING_GRACE_SECONDS: int = Field(default=7 * 24 * 3600, ge=0)
    BILLING_SWEEP_SECONDS: float = 5.0
    # Outgoing Stripe calls; no key: billing is off (signup works, no customer is created).
    STRIPE_API_KEY: str | None = None
    STRIPE_API_BASE: str | None = None  # e.g. a localstripe server in development and tests
    # Paid plans start with a trial (no card needed); 0: no trial, a paid plan starts once its
    # Checkout session is paid.
    STRIPE_TRIAL_DAYS: int = Field(default=14, ge=0)
    # Where Stripe Checkout sends the customer back (paid, or gone back), and where the
    # customer portal's "back" link leads.
    CHECKOUT_SUCCESS_URL: str = "http://localhost:8000/billing/checkout-complete"
    CHECKOUT_CANCEL_URL: str = "http://localhost:8000/billing/checkout-canceled"
    BILLING_RETURN_URL: str = "http://localhost:8000/billing"
    # The pool database as the app's role: the usage the app plane meters is read from it, and
    # each tenant's principals (who may use its data) are published to it. Without it, the
    # shared app plane admits nobody. (Formerly USAGE_DATABASE_URL, still accepted.)
    APP_DATABASE_URL: str | None = Field(
        default=None, validation_alias=AliasChoices("APP_DATABASE_URL", "USAGE_DATABASE_URL")
    )
    USAGE_REPORT_SECONDS: float = 3600.0  # how often finished days are reported to Stripe
    # Another OpenFeature provider for features (`package.module:factory`); none: Tenantry's own.
    FEATURE_FLAG_PROVIDER: str | None = None
    # Start the outbox dispatcher and the Kubernetes mirror inside the API process.
    RUN_BACKGROUND_WORKERS: bool = True

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.JWT_PRIVATE_KEY is None and self.ENVIRONMENT != "local":
            raise ValueError(
                "JWT_PRIVATE_KEY (an Ed25519 private key, PEM) must be set outside local "
                f"development (ENVIRONMENT={self.ENVIRONMENT})"
            )
        if self.JWT_PRIVATE_KEY is not None:
            try:
                tokens.public_key_pem(self.JWT_PRIVATE_KEY.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"JWT_PRIVATE_KEY is not an Ed25519 private key: {exc}") from exc
        if self.ENVIRONMENT != "local" and self.WEBHOOK_ALLOW_LOOPBACK:
            raise ValueError("WEBHOOK_ALLOW_LOOPBACK is for local development only")
        if self.ENVIRONMENT != "local" and "local_development" in self.STRIPE_WEBHOOK_SECRET:
            raise ValueError("STRIPE_WEBHOOK_SECRET must be set outside local development")
        password = self.FIRST_PLATFORM_ADMIN_PASSWORD
        if self.FIRST_PLATFORM_ADMIN_EMAIL and (not password or len(password) < 12):
            raise ValueError("FIRST_PLATFORM_ADMIN_PASSWORD must have at least 12 characters")
        if self.API_KEY_DEFAULT_DAYS > self.API_KEY_MAX_DAYS:
            raise ValueError("API_KEY_DEFAULT_DAYS must not exceed API_KEY_MAX_DAYS")
        oidc = (self.OIDC_ISSUER, self.OIDC_AUDIENCE, self.OIDC_JWKS_URL)
        if any(oidc) and not all(oidc):
            raise ValueError("OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL go together")
        return self


@functools.cache
def _ephemeral_key() -> str:
    return tokens.generate_signing_key()


def signing_key(settings: Settings) -> str:
    """The private key tokens are signed with (local development: one per process if unset)."""
    if settings.JWT_PRIVATE_KEY is None:
        return _ephemeral_key()
    return settings.JWT_PRIVATE_KEY.get_secret_value()


def public_key(settings: Settings) -> str:
    return tokens.public_key_pem(signing_key(settings))


@functools.cache
def get_settings() -> Settings:
    return Settings()
