"""Request and response bodies of the control-plane API (Base / Create / Public per entity)."""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator


def _plain(value: str) -> str:
    """Refuse control characters and lone surrogates: they cannot reach Postgres or a CR."""
    bad = sorted({f"U+{ord(c):04X}" for c in value if unicodedata.category(c) in ("Cc", "Cs")})
    if bad:
        raise ValueError(f"control or surrogate characters are not allowed: {', '.join(bad[:5])}")
    return value


PlainStr = Annotated[str, AfterValidator(_plain)]
Secret = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z][a-z0-9-]*$")]
PermissionName = Annotated[str, Field(max_length=63, pattern=r"^[a-z_]+:[a-z_]+$")]
TierName = Annotated[
    str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
]


class Condition(BaseModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    lastTransitionTime: str | None = None  # noqa: N815 - Kubernetes field name
    observedGeneration: int | None = None  # noqa: N815


class TenantBase(BaseModel):
    company: PlainStr = Field(min_length=1, max_length=200)
    tier: TierName


class SignupCreate(TenantBase):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    password: PlainStr = Field(min_length=12, max_length=256)


class TenantPublic(TenantBase):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_key: str = Field(
        serialization_alias="slug", description="the tenant key: the name of its Tenant resource"
    )
    phase: str
    placement: str | None
    lifecycle: str
    conditions: list[Condition]
    data_retention: dict[str, Any] | None = None
    billing_state: str = "none"
    # The tier asked for at signup, provisioned once the owner's email is verified.
    requested_tier: str | None = None
    # A plan paid through Stripe Checkout that Stripe has not confirmed yet.
    payment_pending: bool = False
    suspended: bool = False
    offboard_after: dt.datetime | None = None
    created_at: dt.datetime


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int
    refresh_token: str | None = None


class LoginCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    password: PlainStr = Field(min_length=1, max_length=256)


class RefreshCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: Secret


class Me(BaseModel):
    kind: Literal["user", "api_key"]
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    role: str | None
    platform_admin: bool
    permissions: list[str]


class TenantUpdate(BaseModel):
    """A tenant's own admins change its name; only platform admins change its tier."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    company: PlainStr | None = Field(default=None, min_length=1, max_length=200)
    tier: TierName | None = None


class TenantPage(BaseModel):
    items: list[TenantPublic]
    next_cursor: str | None


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    created_at: dt.datetime


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Name


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    role: Name = "member"


class InvitationPublic(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    invited_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    mailed_at: dt.datetime | None = Field(
        description="When the invitation's link (its one-time token) was mailed; null until then"
    )
    accepted_at: dt.datetime | None
    revoked_at: dt.datetime | None


class InvitationAccept(BaseModel):
    """Accept with a password for the new account, or with an `id_token` of the OIDC issuer
    whose verified email is the invited one (the account then signs in through it)."""

    model_config = ConfigDict(extra="forbid")
    token: Secret
    password: PlainStr | None = Field(default=None, min_length=12, max_length=256)
    id_token: str | None = Field(default=None, min_length=1, max_length=8192)

    @model_validator(mode="after")
    def _one_proof(self) -> InvitationAccept:
        if (self.password is None) == (self.id_token is None):
            raise ValueError("give either a password or an id_token")
        return self


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name
    description: PlainStr = Field(default="", max_length=500)
    permissions: list[PermissionName] = Field(max_length=50)


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    description: PlainStr | None = Field(default=None, max_length=500)
    permissions: list[PermissionName] | None = Field(default=None, max_length=50)


class RolePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    builtin: bool
    permissions: list[str]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: PlainStr = Field(min_length=1, max_length=100)
    scopes: list[PermissionName] = Field(min_length=1, max_length=50)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="Shown once: store it now")


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tenant_id: uuid.UUID | None
    actor: str
    action: str
    resource: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client_ip: str | None
    created_at: dt.datetime


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    next_cursor: int | None


class SignupPublic(BaseModel):
    tenant: TenantPublic
    token: Token
    # A signup on a paid plan without a trial: where its owner pays (Stripe Checkout). The
    # tenant runs on the free tier until Stripe says it is paid. Null when nothing is due, or
    # Stripe could not be reached (then POST /tenants/{id}/billing/checkout opens one).
    checkout_url: str | None = None


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: str = Field(
        min_length=1,
        max_length=120,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="a paid plan of GET /plans",
    )


class CheckoutPublic(BaseModel):
    id: str = Field(description="the Stripe Checkout session")
    url: str = Field(description="where the customer pays")
    plan: str
    tier: str


class PortalPublic(BaseModel):
    url: str = Field(description="a session of Stripe's customer portal, valid for a short time")


class EmailVerificationConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Secret


class EmailVerified(BaseModel):
    email: str
    verified_at: dt.datetime | None
    tenant_id: uuid.UUID | None
    tier: str | None = Field(description="the tenant's tier now (a held one is released)")


class TierPublic(BaseModel):
    name: str
    display_name: str
    isolation: Literal["pool", "bridge", "silo"]
    quota: dict[str, Any]
    rate_limit_per_minute: int
    features: list[str]
    self_service: bool
    # What a tenant admin must have before choosing the tier (Tier spec.selfService).
    requires_verified_email: bool = False
    requires_payment_method: bool = False
    # Whether its tenants are billed through Stripe (Tier spec.billable; false: internal).
    billable: bool = True


class PlanPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tier: str
    interval: Literal["month", "year"]
    amount: int
    currency: str
    display_name: str
    per_seat: bool = False


class WebhookReceipt(BaseModel):
    event: str
    outcome: str


class EntitlementsPublic(BaseModel):
    tenant_id: uuid.UUID
    tier: str
    features: list[str] = Field(
        description="what the tenant may use now: its plan's features, its overrides and the "
        "flags that reach it (tenantry_core.flags)"
    )
    plan_features: list[str] = Field(description="the features its tier lists")
    ring: str
    rate_limit_per_minute: int | None


# -- feature flags (platform admins) ------------------------------------------------------------
FeatureName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")]
RingName = Literal["internal", "beta", "all"]


class FlagPut(BaseModel):
    """A feature's rollout: it reaches the listed tenants, the tenants of `ring` and the rings
    before it (internal, beta, all), and `percentage` of all tenants; `enabled` false: none."""

    model_config = ConfigDict(extra="forbid")

    description: PlainStr = Field(default="", max_length=500)
    enabled: bool = True
    tenants: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    ring: RingName | None = None
    percentage: int = Field(default=0, ge=0, le=100)


class FlagPublic(FlagPut):
    model_config = ConfigDict(from_attributes=True)

    key: str
    created_at: dt.datetime
    updated_at: dt.datetime


class OverridePut(BaseModel):
    """Grant (`enabled` true) or remove a feature for one tenant, whatever its plan and flags."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    reason: PlainStr = Field(default="", max_length=500)


class OverridePublic(OverridePut):
    model_config = ConfigDict(from_attributes=True)

    tenant_id: uuid.UUID
    feature: str
    created_at: dt.datetime


class RingPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ring: RingName


class RingPublic(RingPut):
    tenant_id: uuid.UUID


class SubscriptionChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.\-]+$")


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


class MeterUsage(BaseModel):
    meter: str = Field(description="the Stripe meter's event name")
    reported: int = Field(description="sent to Stripe as meter events (finished days)")
    unreported: int = Field(description="metered in the period but not sent yet (today too)")


class BillingUsagePublic(BaseModel):
    tenant_id: uuid.UUID
    period_start: dt.datetime
    period_end: dt.datetime
    period_source: Literal["subscription", "calendar_month"] = Field(
        description="the subscription's current period, or the UTC month without one"
    )
    meters: list[MeterUsage]


class InvoiceLine(BaseModel):
    description: str | None
    plan: str | None
    quantity: int | None
    amount: int = Field(description="in the currency's minor unit")
    proration: bool
    period_start: dt.datetime | None
    period_end: dt.datetime | None


class UpcomingInvoicePublic(BaseModel):
    tenant_id: uuid.UUID
    currency: str
    amount_due: int = Field(description="in the currency's minor unit")
    subtotal: int
    total: int
    period_start: dt.datetime | None
    period_end: dt.datetime | None
    next_payment_attempt: dt.datetime | None
    lines: list[InvoiceLine]
