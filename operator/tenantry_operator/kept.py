"""What the operator records on a tenant's namespace when the Tenant CRD is deleted, and who may
take that kept namespace and data over once the Tenant is re-created.

Deleting the CRD deletes every Tenant; the operator then keeps each tenant's namespace, Secret
and data where they are (whatever the deletionPolicy) and annotates the namespace with a `Kept`
record: the deleted Tenant's uid, key, registry tenant-id, placement and live migration. A
Tenant of that name takes it over only if it is the same tenant: the same registry tenant-id
(label `tenantry.dev/tenant-id`, which the control plane sets), or a platform admin names the
deleted Tenant's uid in spec.adoptRetainedFrom. Pure: used by `keeping` and its unit tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tenantry_core import identity, resources
from tenantry_operator import model

ANNOTATION = f"{resources.GROUP}/kept-from"


@dataclass(frozen=True)
class Kept:
    """The deleted Tenant a kept namespace belonged to."""

    uid: str
    tenant_key: str
    tenant_id: str  # the registry's tenant_id (label), "" for a Tenant made with kubectl
    placement: str | None  # status.placement: where its data is served from
    migration: Mapping[str, Any] | None = None  # status.migration, to resume a live move

    @classmethod
    def of_tenant(cls, body: Mapping[str, Any]) -> Kept:
        meta, status = body["metadata"], dict(body.get("status") or {})
        return cls(
            uid=str(meta["uid"]),
            tenant_key=str(meta["name"]),
            tenant_id=str((meta.get("labels") or {}).get(resources.LABEL_TENANT_ID) or ""),
            placement=str(status["placement"]) if status.get("placement") else None,
            migration=dict(status["migration"]) if status.get("migration") else None,
        )

    def to_annotation(self) -> str:
        return json.dumps(
            {
                "uid": self.uid,
                "tenantKey": self.tenant_key,
                "tenantId": self.tenant_id,
                "placement": self.placement,
                "migration": self.migration,
            },
            sort_keys=True,
        )

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, str] | None) -> Kept | None:
        """The record in a namespace's annotations; None when there is none. A record that
        cannot be read is kept from everyone (ValueError)."""
        text = (annotations or {}).get(ANNOTATION)
        if text is None:
            return None
        try:
            found = json.loads(text)
            return cls(
                uid=str(found["uid"]),
                tenant_key=identity.parse(str(found["tenantKey"])),
                tenant_id=str(found.get("tenantId") or ""),
                placement=str(found["placement"]) if found.get("placement") else None,
                migration=dict(found["migration"]) if found.get("migration") else None,
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"annotation {ANNOTATION} is not a kept-tenant record") from exc

    def status(self) -> dict[str, Any]:
        """The status a Tenant taking this over starts from: where the data is, and the live
        migration it was in."""
        seeded: dict[str, Any] = {}
        if self.placement:
            seeded["placement"] = self.placement
        if self.migration:
            seeded["migration"] = dict(self.migration)
        return seeded


def refusal(kept: Kept, body: Mapping[str, Any]) -> str | None:
    """Why the Tenant `body` may not take over what was kept from `kept`; None when it may."""
    meta, spec = body["metadata"], dict(body.get("spec") or {})
    tenant_id = str((meta.get("labels") or {}).get(resources.LABEL_TENANT_ID) or "")
    if kept.tenant_key == meta["name"]:
        if spec.get("adoptRetainedFrom") == kept.uid:
            return None
        if kept.tenant_id and tenant_id == kept.tenant_id:
            return None
    return (
        f"namespace {model.namespace(identity.parse(kept.tenant_key))} holds what was kept of "
        f"Tenant {kept.uid} when the Tenant CRD was deleted; only the same tenant takes it "
        f"over: the registry's {resources.LABEL_TENANT_ID} label of that Tenant, or (a "
        "platform admin) "
        f"spec.adoptRetainedFrom: {kept.uid}"
    )


def without_owner(refs: Sequence[Mapping[str, Any]], uid: str) -> list[dict[str, Any]]:
    """Owner references less the one to `uid`."""
    return [dict(ref) for ref in refs if ref.get("uid") != uid]


def owned_by_tenant(refs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any of the owner references is to a Tenant (of any version of our group)."""
    return any(
        ref.get("kind") == resources.TENANT_KIND
        and str(ref.get("apiVersion", "")).partition("/")[0] == resources.GROUP
        for ref in refs
    )


def owner_reference(body: Mapping[str, Any]) -> dict[str, Any]:
    """The owner reference to the Tenant `body`, as kopf.adopt writes it."""
    meta = body["metadata"]
    return {
        "apiVersion": str(body.get("apiVersion") or resources.API_VERSION),
        "kind": resources.TENANT_KIND,
        "name": str(meta["name"]),
        "uid": str(meta["uid"]),
        "controller": True,
        "blockOwnerDeletion": True,
    }
