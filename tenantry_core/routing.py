"""The pool database's contract between the operator and the control plane (who write it) and
the app (who reads it).

- The routing table says where each tenant's data lives; the app routes every request by it.
- The Tier tables say what each tier grants (features) and allows (app requests a minute); the
  operator writes them from the Tier resources.
- The principals table lists who may use each tenant's data now (users and API keys, with their
  `data:*` permissions); the control plane writes it as users, roles and keys change.
- Every tenant table has the column `tenant_key`; a transaction names its tenant with the
  per-transaction setting `tenantry.tenant_key` (`set_config(..., true)`), which row-level
  security checks.
- The migration fence: app transactions take a shared advisory lock on the tenant before they
  read its route; a live migration takes it exclusively while it switches the route.
- The platform's database roles: the table owner, the tenants' group and the shared app role.
"""

from __future__ import annotations

ROUTING_TABLE = "tenantry.tenants"
TIER_FEATURES_TABLE = "tenantry.tier_features"
TIER_LIMITS_TABLE = "tenantry.tier_limits"
USAGE_TABLE = "tenantry.usage"
PRINCIPALS_TABLE = "tenantry.principals"
RATE_LIMITS_TABLE = "tenantry.rate_limits"  # the app plane's GCRA state (`tenantry_core.gcra`)

TENANT_COLUMN = "tenant_key"
TENANT_SETTING = "tenantry.tenant_key"

# First key of the two-key advisory lock; the second is hashtext(tenant key).
FENCE_CLASS = 0x54454E

OWNER_ROLE = "tenantry_owner"  # owns every tenant table; never logs in
TENANT_GROUP = "tenantry_tenant"  # pooled tenants' roles are members
APP_ROLE = "tenantry_app"  # the shared app's login role; not a superuser, owns nothing
