"""Pure planning: turn a Tenant and its Tier into the objects and database state it should have.

No I/O and no clients (an import-linter contract keeps it that way): the reconciler feeds the
plan to `apply` and `pooldb`, and unit tests check plans against literal specs.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tenantry_operator import model

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
SECRET_NAME = "tenant-db"  # noqa: S105 - a name, not a secret
PLATFORM_NAMESPACE = "tenantry-system"


@cache
def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text())


def render(name: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Render a multi-document YAML template; each ${var} becomes a JSON literal (valid YAML)."""
    text = _template(name).substitute({k: json.dumps(v) for k, v in values.items()})
    return [doc for doc in yaml.safe_load_all(text) if doc]


def labels(tenant: model.Tenant, tier: model.Tier) -> dict[str, str]:
    return {
        model.LABEL_TENANT: tenant.name,
        model.LABEL_TIER: tier.name,
        "tenantry.dev/isolation": tier.isolation.value,
        model.LABEL_MANAGED_BY: "tenantry",
    }


def admin_subjects(tenant: model.Tenant) -> list[dict[str, str]]:
    """Who administers the tenant's namespace: its admin group, service account and owner."""
    subjects = [
        {
            "kind": "Group",
            "apiGroup": "rbac.authorization.k8s.io",
            "name": f"tenantry:tenant:{tenant.name}:admins",
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
class PoolDatabasePlan:
    """What the tenant's slice of the shared pool database must look like."""

    tenant_key: str
    role: str
    tier: str
    suspended: bool

    @property
    def placement(self) -> model.Isolation:
        return model.Isolation.POOL


def pool_role(tenant: model.Tenant) -> str:
    return f"tnt_{tenant.key.replace('-', '_')}"


def plan_pool_database(tenant: model.Tenant, tier: model.Tier) -> PoolDatabasePlan:
    return PoolDatabasePlan(
        tenant_key=tenant.key, role=pool_role(tenant), tier=tier.name, suspended=tenant.suspended
    )


@dataclass(frozen=True)
class Endpoint:
    """Where a database server answers, as written into tenants' Secrets and status."""

    host: str
    port: int
    database: str


def plan_secret(
    tenant: model.Tenant,
    tier: model.Tier,
    plan: PoolDatabasePlan,
    endpoint: Endpoint,
    password: str,
) -> dict[str, Any]:
    """The Secret the tenant's workloads use to reach their data (never logged, never in status)."""
    url = f"postgresql://{plan.role}:{password}@{endpoint.host}:{endpoint.port}/{endpoint.database}"
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
            "user": plan.role,
            "password": password,
            "tenant": plan.tenant_key,
            "placement": plan.placement.value,
            "url": url,
        },
    }


def database_status(
    tenant: model.Tenant, plan: PoolDatabasePlan, endpoint: Endpoint
) -> dict[str, Any]:
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "name": endpoint.database,
        "schema": "public",
        "tenantKey": plan.tenant_key,
        "secretRef": {"namespace": tenant.namespace, "name": SECRET_NAME},
    }
