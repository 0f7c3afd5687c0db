"""Typed views of Tenant and Tier custom resources, parsed from raw kopf/Kubernetes bodies, and
every name derived from a tenant key.

Pure data: used by the planner, the decision and status computations, the reconciler and the
Postgres modules. Parsing applies the CRD defaults too, so the planner never sees a missing
field. The derived names (namespace, role, bridge schema, silo database, the migration's and
snapshot's working names, and retained data's uid-bound name) are defined here and nowhere else.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tenantry_core import enums, identity, resources
from tenantry_operator import promotion

Isolation = enums.Isolation
DeletionPolicy = enums.DeletionPolicy

SILO_DATABASE_PREFIX = "tenant_"  # every silo database's name starts with it
RETAINED_PREFIX = "retained_"  # retained data's names; never a tenant key (keys have no '_')


def _snake(key: identity.TenantKey) -> str:
    """The key as an SQL-friendly suffix: '-' becomes '_'."""
    return key.replace("-", "_")


def namespace(key: identity.TenantKey) -> str:
    """The tenant's Kubernetes namespace."""
    return f"tenant-{key}"


def role(key: identity.TenantKey) -> str:
    """The tenant's database login role, on whichever server holds its data."""
    return f"tnt_{_snake(key)}"


def bridge_schema(key: identity.TenantKey) -> str:
    """The tenant's own schema in the pool database, in the bridge placement."""
    return f"tenant_{_snake(key)}"


def silo_database(key: identity.TenantKey) -> str:
    """The tenant's dedicated database, in the silo placement."""
    return f"{SILO_DATABASE_PREFIX}{_snake(key)}"


def silo_tenant_key(database: str) -> identity.TenantKey | None:
    """The tenant whose silo database is named `database` (the inverse of `silo_database`:
    tenant keys have no '_'); None for any other name, such as retained data's."""
    if not database.startswith(SILO_DATABASE_PREFIX):
        return None
    try:
        return identity.parse(database.removeprefix(SILO_DATABASE_PREFIX).replace("_", "-"))
    except identity.InvalidTenantKey:
        return None


def replication_name(key: identity.TenantKey) -> str:
    """The publication, slot and subscription of the tenant's live migration."""
    return f"tenantry_mig_{_snake(key)}"


def snapshot_staging_schema(key: identity.TenantKey) -> str:
    """The schema a snapshot of the tenant's rows is staged in, then dumped from."""
    return f"tenantry_snap_{_snake(key)}"


def retained_name(uid: str) -> str:
    """The uid-bound name retained data is moved under when its Tenant is deleted: the rows'
    tenant_key in the pool, the bridge schema, or the silo database. No tenant key is ever
    spelled like it, so a new Tenant of the same name never finds it."""
    return f"{RETAINED_PREFIX}{uid.replace('-', '').lower()}"


@dataclass(frozen=True)
class Quota:
    cpu: str = "2"
    memory: str = "4Gi"
    pods: int = 20
    storage: str = "10Gi"


@dataclass(frozen=True)
class Limits:
    cpu: str = "500m"
    memory: str = "512Mi"
    request_cpu: str = "100m"
    request_memory: str = "128Mi"


@dataclass(frozen=True)
class DatabaseLimits:
    """What the tenant's own database role may use: at most this many connections at once, and
    this long per statement (a Postgres interval: '500ms', '30s', '2min')."""

    connection_limit: int = 20
    statement_timeout: str = "30s"


class Provisioner(enum.StrEnum):
    """What creates a silo tenant's dedicated database (Tier spec.database.provisioner)."""

    SERVERS = "servers"  # a database on one of the operator's listed servers
    TERRAFORM = "terraform"  # a silo-database Terraform module, one state per tenant
    PULUMI = "pulumi"  # the silo-database Pulumi program, one stack per tenant


@dataclass(frozen=True)
class Provisioning:
    """How a Tier's silo databases are provisioned: by whom (None: the operator's setting),
    with which module or flavour, and the Tier's parameters for it."""

    provisioner: Provisioner | None = None
    module: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)


class PlacementPolicy(enum.StrEnum):
    """How a Tier spreads its new pooled tenants over the pool shards it may use (`placement`)."""

    FEWEST_TENANTS = "FewestTenants"
    LEAST_ROWS = "LeastRows"


@dataclass(frozen=True)
class Tier:
    name: str
    isolation: Isolation
    quota: Quota = field(default_factory=Quota)
    limits: Limits = field(default_factory=Limits)
    database: DatabaseLimits = field(default_factory=DatabaseLimits)
    provisioning: Provisioning = field(default_factory=Provisioning)
    rate_limit_per_minute: int = 600  # the control-plane API's
    app_rate_limit_per_minute: int = 6000  # the app plane's
    features: tuple[str, ...] = ()
    replicas: int = 1
    revision: str = ""
    placement_policy: PlacementPolicy = PlacementPolicy.FEWEST_TENANTS  # spec.placement.policy
    placement_servers: tuple[str, ...] = ()  # spec.placement.servers; empty: every shard
    placement_label: str = ""  # spec.placement.matchLabel: servers labelled like the Tenant
    promote: promotion.Rule | None = None  # spec.placement.promote: the policy move

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Tier:
        spec = dict(body.get("spec") or {})
        quota = dict(spec.get("quota") or {})
        limits = dict(spec.get("limits") or {})
        database = dict(spec.get("database") or {})
        placement = dict(spec.get("placement") or {})
        return cls(
            name=str(body["metadata"]["name"]),
            isolation=Isolation(spec["isolation"]),
            quota=Quota(
                cpu=str(quota.get("cpu", Quota.cpu)),
                memory=str(quota.get("memory", Quota.memory)),
                pods=int(quota.get("pods", Quota.pods)),
                storage=str(quota.get("storage", Quota.storage)),
            ),
            limits=Limits(
                cpu=str(limits.get("cpu", Limits.cpu)),
                memory=str(limits.get("memory", Limits.memory)),
                request_cpu=str(limits.get("requestCpu", Limits.request_cpu)),
                request_memory=str(limits.get("requestMemory", Limits.request_memory)),
            ),
            database=DatabaseLimits(
                connection_limit=int(
                    database.get("connectionLimit", DatabaseLimits.connection_limit)
                ),
                statement_timeout=str(
                    database.get("statementTimeout", DatabaseLimits.statement_timeout)
                ),
            ),
            provisioning=Provisioning(
                provisioner=Provisioner(named) if (named := database.get("provisioner")) else None,
                module=str(database.get("module") or ""),
                parameters={
                    str(k): str(v) for k, v in dict(database.get("parameters") or {}).items()
                },
            ),
            rate_limit_per_minute=int(spec.get("rateLimitPerMinute", 600)),
            app_rate_limit_per_minute=int(spec.get("appRateLimitPerMinute", 6000)),
            features=tuple(spec.get("features") or ()),
            replicas=int(spec.get("replicas", 1)),
            revision=revision_of(spec),
            placement_policy=PlacementPolicy(placement.get("policy") or "FewestTenants"),
            placement_servers=tuple(str(s) for s in placement.get("servers") or ()),
            placement_label=str(placement.get("matchLabel") or ""),
            promote=promotion.Rule.from_spec(spec),
        )


def revision_of(spec: Mapping[str, Any]) -> str:
    """A short stable digest of a Tier spec: tenants record which revision they were built from."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Tenant:
    tenant_key: identity.TenantKey  # metadata.name
    uid: str
    generation: int
    tier: str
    display_name: str = ""
    owner_email: str = ""
    suspended: bool = False
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    restore_from: str = ""
    restore_from_any: bool = False  # annotation: restoreFrom may name another Tenant's snapshot
    adopt_retained_from: str = ""  # the uid of a deleted Tenant whose retained data to take over
    placement: Isolation | None = None  # where the operator last placed the data (status)
    server: str | None = None  # the server the data is on now (status)
    wanted_isolation: Isolation | None = None  # spec.placement.isolation: overrides the Tier's
    wanted_server: str = ""  # spec.placement.server
    restored_from: str = ""  # the snapshot whose rows were loaded already (status)
    labels: tuple[tuple[str, str], ...] = ()  # metadata.labels
    restore_backup: str = ""  # spec.restore.backup: a live restore to that backup, asked for
    restore_requested: str = ""  # spec.restore.requested: when (one restore per request)
    restore_done: str = ""  # status.restoreRequested: the last restore request that ended

    def label(self, key: str) -> str | None:
        """The value of the Tenant's label `key`, if it has one."""
        return dict(self.labels).get(key)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Tenant:
        meta, spec = body["metadata"], dict(body.get("spec") or {})
        status = dict(body.get("status") or {})
        wanted = dict(spec.get("placement") or {})
        return cls(
            tenant_key=identity.parse(str(meta["name"])),
            uid=str(meta.get("uid", "")),
            generation=int(meta.get("generation", 0)),
            tier=str(spec.get("tier", "")),
            display_name=str(spec.get("displayName", "")),
            owner_email=str((spec.get("owner") or {}).get("email", "")),
            suspended=bool(spec.get("suspended", False)),
            deletion_policy=DeletionPolicy(spec.get("deletionPolicy", "Retain")),
            restore_from=str(spec.get("restoreFrom") or ""),
            restore_from_any=(meta.get("annotations") or {}).get(
                resources.ANNOTATION_RESTORE_FROM_ANY
            )
            == "true",
            adopt_retained_from=str(spec.get("adoptRetainedFrom") or ""),
            placement=Isolation(placed) if (placed := status.get("placement")) else None,
            server=str(status["server"]) if status.get("server") else None,
            wanted_isolation=Isolation(w) if (w := wanted.get("isolation")) else None,
            wanted_server=str(wanted.get("server") or ""),
            restored_from=str(status.get("restoredFrom") or ""),
            labels=tuple(sorted((str(k), str(v)) for k, v in (meta.get("labels") or {}).items())),
            restore_backup=str((spec.get("restore") or {}).get("backup") or ""),
            restore_requested=str((spec.get("restore") or {}).get("requested") or ""),
            restore_done=str(status.get("restoreRequested") or ""),
        )

    @property
    def namespace(self) -> str:
        return namespace(self.tenant_key)
