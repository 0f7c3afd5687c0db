"""The app plane's configuration, from the environment."""

from __future__ import annotations

import functools

from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # The shared pool database, as the non-owner, non-BYPASSRLS role `tenantry_app`.
    TENANTRY_APP_DATABASE_URL: str
    SECRET_KEY: str
    JWT_ISSUER: str = "tenantry"
    JWT_AUDIENCE: str = "tenantry"


@functools.cache
def get_settings() -> AppSettings:
    return AppSettings()
