"""Typed views of Tenant and Tier custom resources, parsed from raw kopf/Kubernetes bodies.

Pure data: used by the planner, the status computation and the handlers. Parsing applies the
CRD defaults too, so the planner never sees a missing field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tenantry_core import enums

Isolation = enums.Isolation
DeletionPolicy = enums.DeletionPolicy


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
class Tier:
    name: str
    isolation: Isolation
    quota: Quota = field(default_factory=Quota)
    limits: Limits = field(default_factory=Limits)
    rate_limit_per_minute: int = 600
    features: tuple[str, ...] = ()
    replicas: int = 1
    revision: str = ""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Tier:
        spec = dict(body.get("spec") or {})
        quota = dict(spec.get("quota") or {})
        limits = dict(spec.get("limits") or {})
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
            rate_limit_per_minute=int(spec.get("rateLimitPerMinute", 600)),
            features=tuple(spec.get("features") or ()),
            replicas=int(spec.get("replicas", 1)),
            revision=revision_of(spec),
        )


def revision_of(spec: Mapping[str, Any]) -> str:
    """A short stable digest of a Tier spec: tenants record which revision they were built from."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Tenant:
    name: str
    uid: str
    generation: int
    tier: str
    display_name: str = ""
    owner_email: str = ""
    suspended: bool = False
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    restore_from: str = ""
    placement: Isolation | None = None  # where the operator last placed the data (status)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Tenant:
        meta, spec = body["metadata"], dict(body.get("spec") or {})
        status = dict(body.get("status") or {})
        return cls(
            name=str(meta["name"]),
            uid=str(meta.get("uid", "")),
            generation=int(meta.get("generation", 0)),
            tier=str(spec.get("tier", "")),
            display_name=str(spec.get("displayName", "")),
            owner_email=str((spec.get("owner") or {}).get("email", "")),
            suspended=bool(spec.get("suspended", False)),
            deletion_policy=DeletionPolicy(spec.get("deletionPolicy", "Retain")),
            restore_from=str(spec.get("restoreFrom", "")),
            placement=Isolation(placed) if (placed := status.get("placement")) else None,
        )

    @property
    def namespace(self) -> str:
        return f"tenant-{self.name}"

    @property
    def role(self) -> str:
        """The tenant's database login role, on whichever server holds its data."""
        return f"tnt_{self.name.replace('-', '_')}"

    @property
    def schema(self) -> str:
        """The tenant's own schema, in the bridge placement."""
        return f"tenant_{self.name.replace('-', '_')}"

    @property
    def key(self) -> str:
        """The value of tenant_id on the tenant's rows in shared tables."""
        return self.name
