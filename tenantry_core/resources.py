"""The custom resources' API contract: group, version, kinds, plurals, labels and annotations.

Used by the operator (kopf registrations, owned objects), the control plane (the Tenant it
applies, the mirror's watches) and the benchmarks. `crds/` defines the same names.
"""

from __future__ import annotations

GROUP = "tenantry.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

TENANT_KIND, TENANT_PLURAL = "Tenant", "tenants"
TIER_KIND, TIER_PLURAL = "Tier", "tiers"
# The Tenant CRD's name: a Tenant deleted because its CRD is deleted is kept, never offboarded.
TENANT_CRD = f"{TENANT_PLURAL}.{GROUP}"

# Labels on every object the operator creates for a tenant.
LABEL_TENANT = f"{GROUP}/tenant"  # the tenant key
LABEL_TIER = f"{GROUP}/tier"
LABEL_ISOLATION = f"{GROUP}/isolation"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
# On a Tenant the control plane created: the registry's tenant_id (a UUID).
LABEL_TENANT_ID = f"{GROUP}/tenant-id"
LABEL_PLATFORM = f"{GROUP}/platform"

# Stamped on a Tenant when its Tier's spec changes, so the Tenant reconciles again.
ANNOTATION_TIER_REVISION = f"{GROUP}/tier-revision"
# Set by a platform admin: spec.restoreFrom may name a snapshot of another Tenant.
ANNOTATION_DATABASE_SERVER = f"{GROUP}/database-server"  # on a silo's pods: the server they use
ANNOTATION_RESTORE_FROM_ANY = f"{GROUP}/restore-from-any"
FINALIZER = f"{GROUP}/finalizer"

PLATFORM_NAMESPACE = "tenantry-system"
OPERATOR_FIELD_MANAGER = "tenantry"
CONTROL_PLANE_FIELD_MANAGER = "tenantry-control-plane"
