"""Request and response bodies of a tenant's webhook endpoints (api.routes.webhooks, built by
services.webhooks). Kept apart from `schemas` for size.
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    url: str = Field(min_length=1, max_length=2000, description="https://, a public address")
    description: str = Field(default="", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")


class WebhookPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str
    created_by: str
    created_at: dt.datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="The signing secret (whsec_…), shown once: store it now")
