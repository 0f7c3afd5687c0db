"""Deleting the Tenant CRD never deletes tenant namespaces or data: the Kubernetes I/O that keeps
them for a re-created Tenant, and hands them over to it.

Deleting the CRD makes the API server delete every Tenant, and the garbage collector would then
delete everything a Tenant owns. So while the CRD is being deleted (or is gone), a deleted
Tenant is not offboarded: `keep` records who it was on its namespace (`kept.Kept`), then removes
its owner references from everything it owns there and from the namespace, so the collector
leaves them; its data in Postgres is not touched, whatever the deletionPolicy. The handlers
call it (from the Tenant's delete handler, and from a sweep over the Tenants while the CRD is
terminating, since kopf may stop serving Tenants before it handles each deletion) and only
then release the finalizer. `take_over` is the first thing a reconcile does: a Tenant of that
name that is the same tenant (`kept.refusal`) gets the namespace, its objects and the status
placement back; any other is refused, and nothing moves. Each step is idempotent and ordered
so that a repeat finds where it got to (the record first, the owner references, then the
record's removal).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tenantry_core import resources
from tenantry_operator import apply, conditions, kept, model

CRD_API_VERSION = "apiextensions.k8s.io/v1"
TENANT_CRD = resources.TENANT_CRD
# What a Tenant owns in its namespace (apply_owned), by api version and kind.
OWNED = (
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("apps/v1", "Deployment"),
)
log = logging.getLogger(__name__)


def _crd() -> dict[str, Any] | None:
    return apply.get(CRD_API_VERSION, "CustomResourceDefinition", TENANT_CRD)


def crd_going() -> bool:
    """Whether the Tenant CRD is being deleted, or is gone."""
    crd = _crd()
    return crd is None or bool(crd["metadata"].get("deletionTimestamp"))


def crd_exists() -> bool:
    return _crd() is not None


def _refs(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or [])


def _children(namespace: str, key: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The tenant's objects in its namespace: (api version, kind, object)."""
    selector = f"{resources.LABEL_TENANT}={key}"
    return [
        (api_version, kind, obj)
        for api_version, kind in OWNED
        for obj in apply.list_objects(api_version, kind, selector, namespace)
    ]


def _set_owners(api_version: str, kind: str, obj: Mapping[str, Any], refs: list[Any]) -> None:
    meta = obj["metadata"]
    apply.merge_patch(
        api_version,
        kind,
        meta["name"],
        {"metadata": {"ownerReferences": refs}},
        namespace=meta.get("namespace"),
    )


def keep(body: Mapping[str, Any]) -> str:
    """Keep what the deleted Tenant `body` owns for a re-created Tenant: record it on its
    namespace, then orphan its objects and the namespace. Returns what was kept (an Event)."""
    record = kept.Kept.of_tenant(body)
    tenant = model.Tenant.from_body(body)
    namespace = apply.get("v1", "Namespace", tenant.namespace)
    if namespace is None:
        return f"the Tenant CRD is being deleted: its data ({record.placement}) is kept"
    mine = record.uid in {str(r.get("uid")) for r in _refs(namespace)}
    annotations = namespace["metadata"].get("annotations") or {}
    if mine and annotations.get(kept.ANNOTATION) != record.to_annotation():
        apply.merge_patch(
            "v1",
            "Namespace",
            tenant.namespace,
            {"metadata": {"annotations": {kept.ANNOTATION: record.to_annotation()}}},
        )
    orphaned = 0
    for api_version, kind, obj in _children(tenant.namespace, tenant.tenant_key):
        refs = _refs(obj)
        if len(remaining := kept.without_owner(refs, record.uid)) < len(refs):
            _set_owners(api_version, kind, obj, remaining)
            orphaned += 1
    if mine:
        _set_owners("v1", "Namespace", namespace, kept.without_owner(_refs(namespace), record.uid))
    log.info(
        "tenant %s: kept namespace %s (%d objects orphaned)",
        tenant.tenant_key,
        tenant.namespace,
        orphaned,
    )
    return (
        f"the Tenant CRD is being deleted: namespace {tenant.namespace}, its objects and the "
        f"tenant's data ({record.placement}) are kept, whatever the deletionPolicy; a Tenant "
        "re-created as the same tenant takes them over"
    )


def release(body: Mapping[str, Any]) -> None:
    """Remove the operator's finalizer from the Tenant `body` (only from the version read: a
    concurrent change makes it fail, to be tried again)."""
    meta = body["metadata"]
    finalizers = [f for f in meta.get("finalizers") or [] if f != resources.FINALIZER]
    apply.merge_patch(
        resources.API_VERSION,
        resources.TENANT_KIND,
        meta["name"],
        {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
    )


@dataclass(frozen=True)
class TakeOver:
    """The Tenant as a reconcile should see it, and why it may not take its namespace over."""

    body: Mapping[str, Any]
    refused: conditions.StepResult | None = None


def take_over(body: Mapping[str, Any]) -> TakeOver:
    """If the Tenant's namespace was kept from a deleted Tenant, hand it (its objects and the
    status placement) to this one when it is the same tenant, or refuse."""
    tenant = model.Tenant.from_body(body)
    namespace = apply.get("v1", "Namespace", tenant.namespace)
    if namespace is None:
        return TakeOver(body)
    try:
        record = kept.Kept.from_annotations(namespace["metadata"].get("annotations"))
    except ValueError as exc:
        return TakeOver(
            body, conditions.StepResult(False, conditions.Reason.ADOPTION_FAILED, str(exc))
        )
    if record is None or record.uid == tenant.uid:
        return TakeOver(body)
    if (why := kept.refusal(record, body)) is not None:
        return TakeOver(body, conditions.StepResult(False, conditions.Reason.ADOPTION_FAILED, why))
    if tenant.placement is None and (seeded := record.status()):
        apply.patch_status(tenant.tenant_key, seeded)
    owner = kept.owner_reference(body)
    for api_version, kind, obj in _children(tenant.namespace, tenant.tenant_key):
        if not kept.owned_by_tenant(_refs(obj)):
            _set_owners(api_version, kind, obj, [*_refs(obj), owner])
    if not kept.owned_by_tenant(_refs(namespace)):
        _set_owners("v1", "Namespace", namespace, [*_refs(namespace), owner])
    apply.merge_patch(
        "v1", "Namespace", tenant.namespace, {"metadata": {"annotations": {kept.ANNOTATION: None}}}
    )
    apply.post_event(
        body,
        conditions.Event(
            "Normal",
            "KeptDataTakenOver",
            f"took over namespace {tenant.namespace} and the data kept from Tenant {record.uid} "
            f"({record.placement})",
        ),
    )
    fresh = apply.get(resources.API_VERSION, resources.TENANT_KIND, tenant.tenant_key)
    return TakeOver(fresh or body)
