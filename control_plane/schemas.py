"""Request and response bodies of the control-plane API (Base / Create / Public per entity)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class Condition(BaseModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    lastTransitionTime: str | None = None  # noqa: N815 - Kubernetes field name
    observedGeneration: int | None = None  # noqa: N815


class TenantBase(BaseModel):
    company: str = Field(min_length=1, max_length=200)
    tier: str = Field(min_length=1, max_length=63)


class SignupCreate(TenantBase):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    password: str = Field(min_length=12, max_length=256)


class TenantPublic(TenantBase):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    phase: str
    placement: str | None
    lifecycle: str
    conditions: list[Condition]
    data_retention: dict[str, Any] | None = None
    billing_state: str = "none"
    suspended: bool = False
    created_at: dt.datetime


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int


class SignupPublic(BaseModel):
    tenant: TenantPublic
    token: Token


class TierPublic(BaseModel):
    name: str
    display_name: str
    isolation: Literal["pool", "bridge", "silo"]
    quota: dict[str, Any]
    rate_limit_per_minute: int
    features: list[str]
    self_service: bool


class PlanPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tier: str
    interval: Literal["month", "year"]
    amount: int
    currency: str
    display_name: str


class WebhookReceipt(BaseModel):
    event: str
    outcome: str


class EntitlementsPublic(BaseModel):
    tenant_id: uuid.UUID
    tier: str
    features: list[str]
    rate_limit_per_minute: int | None


class SubscriptionChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: str = Field(min_length=1, max_length=120)


class SubscriptionChange(BaseModel):
    plan: str
    tier: str
    status: Literal["requested"]


class UsageDay(BaseModel):
    day: dt.date
    api_calls: int
    stored_rows: int


class UsagePublic(BaseModel):
    tenant_id: uuid.UUID
    since: dt.date
    days: list[UsageDay]
    total_api_calls: int
