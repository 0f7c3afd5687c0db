"""The app plane's configuration, from the environment.

The shared deployment sets TENANTRY_APP_DATABASE_URL (the pool database as `tenantry_app`); a
silo tenant's dedicated deployment sets TENANTRY_TENANT_DATABASE_URL and TENANTRY_TENANT_KEY
from the tenant's Secret instead.
"""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    TENANTRY_APP_DATABASE_URL: str | None = None
    TENANTRY_TENANT_DATABASE_URL: str | None = None
    TENANTRY_TENANT_KEY: str | None = None
    TENANTRY_TENANT_TIER: str | None = None
    TENANTRY_TENANT_FEATURES: list[str] = []
    JWT_PUBLIC_KEY: str  # the control plane's token-signing public key (PEM)
    JWT_ISSUER: str = "tenantry"
    JWT_AUDIENCE: str = "tenantry"
    # The shared app's per-tenant budget comes from the Tier; this one applies to a tenant whose
    # tier publishes none.
    TENANTRY_RATE_LIMIT_ENABLED: bool = True
    TENANTRY_RATE_LIMIT_DEFAULT_PER_MINUTE: int = Field(default=6000, ge=1)
    # How often a replica asks whether the feature flags changed (app_plane.features), and
    # another OpenFeature provider for features (`package.module:factory`; none: Tenantry's).
    TENANTRY_FLAGS_CHECK_SECONDS: float = Field(default=1.0, ge=0)
    TENANTRY_FEATURE_FLAG_PROVIDER: str | None = None
    # Background exports (app_plane.exports): where archives go, the key that signs their
    # download links and how long a link lasts; how often the worker looks for a job, and how
    # long a running job's worker may be silent before another replica starts it again.
    TENANTRY_EXPORT_DIR: Path | None = None
    TENANTRY_EXPORT_LINK_SECRET: str | None = None
    TENANTRY_EXPORT_LINK_SECONDS: int = Field(default=3600, ge=1)
    TENANTRY_EXPORT_POLL_SECONDS: float = Field(default=2.0, gt=0)
    TENANTRY_EXPORT_LEASE_SECONDS: float = Field(default=60.0, gt=0)
    # The connections of each database engine a replica opens (the home pool, each other pool
    # shard, each silo it serves): kept open, and opened on top at peak. Behind PgBouncer in
    # transaction mode, turn server-side prepared statements off (PgBouncer before 1.21 cannot
    # carry them from one transaction's server connection to the next).
    TENANTRY_DB_POOL_SIZE: int = Field(default=10, ge=1)
    TENANTRY_DB_MAX_OVERFLOW: int = Field(default=20, ge=0)
    TENANTRY_DB_PREPARED_STATEMENTS: bool = True

    @model_validator(mode="after")
    def _one_mode(self) -> AppSettings:
        if self.TENANTRY_TENANT_DATABASE_URL:
            if not self.TENANTRY_TENANT_KEY:
                raise ValueError("TENANTRY_TENANT_KEY must name the tenant a dedicated app serves")
        elif not self.TENANTRY_APP_DATABASE_URL:
            raise ValueError(
                "set TENANTRY_APP_DATABASE_URL (shared app) or "
                "TENANTRY_TENANT_DATABASE_URL (a silo tenant's dedicated app)"
            )
        return self

    @property
    def dedicated(self) -> bool:
        """A silo tenant's dedicated app (no pool database), not the shared one."""
        return bool(self.TENANTRY_TENANT_DATABASE_URL)

    @property
    def exports(self) -> bool:
        """Background exports are on: the shared app, with a directory and a link secret."""
        return bool(
            not self.dedicated and self.TENANTRY_EXPORT_DIR and self.TENANTRY_EXPORT_LINK_SECRET
        )

    def pool_url(self) -> str:
        assert self.TENANTRY_APP_DATABASE_URL is not None
        return self.TENANTRY_APP_DATABASE_URL


@functools.cache
def get_settings() -> AppSettings:
    return AppSettings()
