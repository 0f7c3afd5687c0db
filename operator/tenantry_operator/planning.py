"""Pure planning: turn a Tenant and its Tier into the objects and database state it should have.

No I/O and no clients (an import-linter contract keeps it that way): the reconcile steps feed
the plans to `apply` (Kubernetes) and `databases` (Postgres), and unit tests check plans against
literal specs.
"""

from __future__ import annotations

import ipaddress
import json
import string
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tenantry_core import identity, resources
from tenantry_operator import model, settings

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
SECRET_NAME = "tenant-db"  # noqa: S105 - a name, not a secret
APP_SECRET_NAME = "app-plane"  # noqa: S105


# libyaml's loader when PyYAML was built with it: about 7 times faster on every reconcile.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text())


def render(name: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Render a multi-document YAML template; each ${var} becomes a JSON literal (valid YAML)."""
    text = _template(name).substitute({k: json.dumps(v) for k, v in values.items()})
    return [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc]


def labels(tenant: model.Tenant, tier: model.Tier) -> dict[str, str]:
    return {
        resources.LABEL_TENANT: tenant.tenant_key,
        resources.LABEL_TIER: tier.name,
        resources.LABEL_ISOLATION: tier.isolation.value,
        resources.LABEL_MANAGED_BY: resources.OPERATOR_FIELD_MANAGER,
    }


def admin_subjects(tenant: model.Tenant) -> list[dict[str, str]]:
    """Who administers the tenant's namespace: its admin group, service account and owner."""
    subjects = [
        {
            "kind": "Group",
            "apiGroup": "rbac.authorization.k8s.io",
            "name": f"tenantry:tenant:{tenant.tenant_key}:admins",
        },
        {"kind": "ServiceAccount", "name": "tenant-admin", "namespace": tenant.namespace},
    ]
    if tenant.owner_email:
        subjects.append(
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": tenant.owner_email}
        )
    return subjects


def plan_namespace(tenant: model.Tenant, tier: model.Tier) -> list[dict[str, Any]]:
    """The tenant's namespace and what isolates and bounds it: quota, limits, policy, RBAC."""
    return render(
        "tenant/namespace.yaml",
        {
            "namespace": tenant.namespace,
            "labels": labels(tenant, tier),
            "quota_cpu": tier.quota.cpu,
            "quota_memory": tier.quota.memory,
            "quota_pods": str(tier.quota.pods),
            "quota_storage": tier.quota.storage,
            "limit_cpu": tier.limits.cpu,
            "limit_memory": tier.limits.memory,
            "request_cpu": tier.limits.request_cpu,
            "request_memory": tier.limits.request_memory,
            "admin_subjects": admin_subjects(tenant),
        },
    )


@dataclass(frozen=True)
class DatabasePlan:
    """Where the tenant's data lives and how it is reached, for any placement.

    pool: rows in the public schema of a pool shard (`server`); bridge: a schema of its own in
    a pool shard; silo: a dedicated database, named `database`, on the silo server `server`
    (empty: wherever the provisioner finds or places it)."""

    tenant_key: identity.TenantKey
    role: str
    tier: str
    placement: model.Isolation
    schema: str
    database: str | None
    suspended: bool
    limits: model.DatabaseLimits = field(default_factory=model.DatabaseLimits)  # the Tier's
    server: str = settings.HOME_SHARD  # the pool shard of a pool or bridge; a silo's server

    @property
    def shard(self) -> str:
        """The pool shard of a pool or bridge placement; the home shard for a silo (whose
        routing row is there)."""
        pooled = self.placement is not model.Isolation.SILO
        return self.server if pooled and self.server else settings.HOME_SHARD


def shard_of(tenant: model.Tenant, placement: model.Isolation, server: str | None = None) -> str:
    """The server of the tenant's data in `placement`: `server` when given, else the one its
    status records for its current placement; else, for a pooled placement, the home shard,
    and for a silo "" (wherever the provisioner finds or places its database)."""
    if placement is model.Isolation.SILO:
        if server:
            return server
        return (tenant.server or "") if tenant.placement is model.Isolation.SILO else ""
    if server:
        return server
    pooled = tenant.placement is not None and tenant.placement is not model.Isolation.SILO
    return tenant.server if pooled and tenant.server else settings.HOME_SHARD


def plan_database(
    tenant: model.Tenant,
    placement: model.Isolation,
    *,
    tier: model.Tier | None = None,
    server: str | None = None,
) -> DatabasePlan:
    """The tenant's data in `placement` (on pool shard `server`, by default the one it is on);
    the role's limits are the Tier's when it is given (offboarding and a migration's target
    need none)."""
    key = tenant.tenant_key
    schema = model.bridge_schema(key) if placement is model.Isolation.BRIDGE else "public"
    database = model.silo_database(key) if placement is model.Isolation.SILO else None
    return DatabasePlan(
        tenant_key=key,
        role=model.role(key),
        tier=tenant.tier,
        placement=placement,
        schema=schema,
        database=database,
        suspended=tenant.suspended,
        limits=tier.database if tier is not None else model.DatabaseLimits(),
        server=shard_of(tenant, placement, server),
    )


@dataclass(frozen=True)
class Endpoint:
    """Where a database answers, as written into tenants' Secrets, status and routing."""

    host: str
    port: int
    database: str
    server: str = ""  # the declared server's name: a pool shard's, or a silo server's host:port


def connection_url(plan: DatabasePlan, endpoint: Endpoint, password: str) -> str:
    url = f"postgresql://{plan.role}:{password}@{endpoint.host}:{endpoint.port}/{endpoint.database}"
    if plan.schema != "public":
        url += f"?options=-csearch_path%3D{plan.schema}"
    return url


def plan_secret(
    tenant: model.Tenant, tier: model.Tier, plan: DatabasePlan, endpoint: Endpoint, password: str
) -> dict[str, Any]:
    """The Secret the tenant's workloads use to reach their data (never logged, never in status)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": SECRET_NAME,
            "namespace": tenant.namespace,
            "labels": labels(tenant, tier),
        },
        "stringData": {
            "host": endpoint.host,
            "port": str(endpoint.port),
            "dbname": endpoint.database,
            "schema": plan.schema,
            "user": plan.role,
            "password": password,
            "tenant": plan.tenant_key,
            "placement": plan.placement.value,
            "url": connection_url(plan, endpoint, password),
        },
    }


def plan_egress_policy(
    tenant: model.Tenant, tier: model.Tier, endpoint: Endpoint
) -> list[dict[str, Any]]:
    """The NetworkPolicy that lets the tenant's pods reach only DNS and its database's port, on
    its address when the endpoint names one (a host name leaves the port alone as the bound)."""
    try:
        address = ipaddress.ip_address(endpoint.host)
    except ValueError:
        peers: list[dict[str, Any]] = []
    else:
        peers = [{"ipBlock": {"cidr": f"{address}/{address.max_prefixlen}"}}]
    return render(
        "tenant/egress.yaml",
        {
            "namespace": tenant.namespace,
            "labels": labels(tenant, tier),
            "database_peers": peers,
            "database_port": endpoint.port,
        },
    )


def plan_workload(
    tenant: model.Tenant, tier: model.Tier, image: str, jwt_public_key: str, server: str = ""
) -> list[dict[str, Any]]:
    """A silo tenant's dedicated app: its Deployment (scaled to zero while suspended), Service,
    and the Secret with the public key the app verifies access tokens with. Its pods name the
    silo `server` they reach: a move to another server rolls them onto the new one."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": APP_SECRET_NAME,
            "namespace": tenant.namespace,
            "labels": labels(tenant, tier),
        },
        "stringData": {"JWT_PUBLIC_KEY": jwt_public_key},
    }
    return [
        secret,
        *render(
            "tenant/silo-workload.yaml",
            {
                "namespace": tenant.namespace,
                "labels": labels(tenant, tier),
                "selector": {
                    resources.LABEL_TENANT: tenant.tenant_key,
                    "app.kubernetes.io/name": "tenantry-app",
                },
                "pod_labels": {**labels(tenant, tier), "app.kubernetes.io/name": "tenantry-app"},
                "pod_annotations": {resources.ANNOTATION_DATABASE_SERVER: server},
                "replicas": 0 if tenant.suspended else tier.replicas,
                "image": image,
                "tenant_key": tenant.tenant_key,
                "tier": tier.name,
                "features": json.dumps(list(tier.features)),
                "db_secret": SECRET_NAME,
                "app_secret": APP_SECRET_NAME,
            },
        ),
    ]
