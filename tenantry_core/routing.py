"""The pool database's contract between the operator (who writes it) and the app (who reads it).

- The routing table says where each tenant's data lives; the app routes every request by it.
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
USAGE_TABLE = "tenantry.usage"

TENANT_COLUMN = "tenant_key"
TENANT_SETTING = "tenantry.tenant_key"

# First key of the two-key advisory lock; the second is hashtext(tenant key).
FENCE_CLASS = 0x54454E

OWNER_ROLE = "tenantry_owner"  # owns every tenant table; never logs in
TENANT_GROUP = "tenantry_tenant"  # pooled tenants' roles are members
APP_ROLE = "tenantry_app"  # the shared app's login role; not a superuser, owns nothing
