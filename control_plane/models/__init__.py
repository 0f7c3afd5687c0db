"""The control plane's tables, one module per concern: `tenants`, `users` (identities and their
credentials), `outbox`, `billing`, `flags` (feature flags and overrides), `records` (audit log,
idempotency, rate limits, failed sign-ins), `webhooks` (a tenant's webhook endpoints).

Every class is importable from here (`models.Tenant`), which is how services and Alembic
(`models.Base.metadata`) use them.
"""

from control_plane.models.base import Base
from control_plane.models.billing import Plan, StripeEvent, UsageReport
from control_plane.models.flags import FeatureFlag, FeatureOverride
from control_plane.models.outbox import OutboxAction, OutboxEntry, OutboxState
from control_plane.models.records import (
    AuditEntry,
    AuditSubjectKey,
    IdempotencyRecord,
    RateLimit,
    SignInFailure,
)
from control_plane.models.tenants import Lifecycle, Source, Tenant
from control_plane.models.users import (
    ApiKey,
    EmailVerification,
    Invitation,
    RefreshToken,
    Role,
    RolePermission,
    User,
)
from control_plane.models.webhooks import WebhookEndpoint

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditSubjectKey",
    "Base",
    "EmailVerification",
    "FeatureFlag",
    "FeatureOverride",
    "IdempotencyRecord",
    "Invitation",
    "Lifecycle",
    "OutboxAction",
    "OutboxEntry",
    "OutboxState",
    "Plan",
    "RateLimit",
    "RefreshToken",
    "Role",
    "RolePermission",
    "SignInFailure",
    "Source",
    "StripeEvent",
    "Tenant",
    "UsageReport",
    "User",
    "WebhookEndpoint",
]
