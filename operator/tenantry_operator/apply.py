"""All Kubernetes I/O of the operator: server-side apply (field manager `tenantry`), owner
references, reads, deletes, status patches and Events.

The reconcile steps hand it planned objects; nothing here decides what should exist. With
`handlers`, the only module that imports kopf: for `kopf.adopt` and `kopf.event`, which a
running reconcile needs.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

import kopf
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from tenantry_core import kubeclient, resources
from tenantry_operator import conditions

FIELD_MANAGER = resources.OPERATOR_FIELD_MANAGER


class ApplyError(Exception):
    """The API server refused an object; the message says which and why."""


@functools.cache
def _dynamic() -> dynamic.DynamicClient:
    return dynamic.DynamicClient(kubeclient.api_client())


def _resource(api_version: str, kind: str) -> Any:
    return _dynamic().resources.get(api_version=api_version, kind=kind)


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata", {})
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def _reason(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body).get("message", exc.reason))
    except (TypeError, ValueError):
        return str(exc.reason)


def apply(objects: Iterable[Mapping[str, Any]]) -> None:
    """Server-side apply each object in order, taking ownership of the fields we set."""
    for obj in objects:
        try:
            _resource(obj["apiVersion"], obj["kind"]).server_side_apply(
                body=dict(obj), field_manager=FIELD_MANAGER, force_conflicts=True
            )
        except ApiException as exc:
            raise ApplyError(f"{_describe(obj)}: {_reason(exc)}") from exc


def _body(owner: Mapping[str, Any]) -> kopf.Body:
    return owner if isinstance(owner, kopf.Body) else kopf.Body(cast(kopf.RawBody, owner))


def apply_owned(owner: Mapping[str, Any], objects: list[dict[str, Any]]) -> None:
    """Make `owner` (a Tenant's body) the owner of each object, then apply them in order."""
    kopf.adopt(objects, owner=_body(owner))
    apply(objects)


def post_event(owner: Mapping[str, Any], event: conditions.Event) -> None:
    """Post an Event on `owner` (a Tenant's body) now, not when its handler returns."""
    kopf.event(_body(owner), type=event.type, reason=event.reason, message=event.message)


def get(
    api_version: str, kind: str, name: str, namespace: str | None = None
) -> dict[str, Any] | None:
    try:
        found = _resource(api_version, kind).get(name=name, namespace=namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(found.to_dict())


def list_objects(
    api_version: str, kind: str, label_selector: str | None = None
) -> list[dict[str, Any]]:
    found = _resource(api_version, kind).get(label_selector=label_selector)
    return [dict(item) for item in found.to_dict()["items"]]


def namespace_active(name: str) -> bool:
    ns = get("v1", "Namespace", name)
    return bool(
        ns
        and ns.get("status", {}).get("phase") == "Active"
        and not ns["metadata"].get("deletionTimestamp")
    )


def read_secret(namespace: str, name: str, *, owner_uid: str) -> dict[str, str] | None:
    """The Secret's data, if it belongs to the owner `owner_uid` alone: a Secret left over from
    a deleted owner of the same name (its namespace still terminating) is never read."""
    secret = get("v1", "Secret", name, namespace)
    if secret is None:
        return None
    owners = {str(o.get("uid")) for o in secret["metadata"].get("ownerReferences") or []}
    if owners != {owner_uid}:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def merge_patch(api_version: str, kind: str, name: str, patch: Mapping[str, Any]) -> None:
    _resource(api_version, kind).patch(
        name=name, body=dict(patch), content_type="application/merge-patch+json"
    )


def delete(api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    """Delete an object in the background; False if it was already gone."""
    try:
        _resource(api_version, kind).delete(
            name=name, namespace=namespace, body={"propagationPolicy": "Background"}
        )
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def patch_status(name: str, patch: Mapping[str, Any]) -> None:
    """Merge-patch a Tenant's status now (a long handler reports progress as it goes)."""
    client.CustomObjectsApi(kubeclient.api_client()).patch_cluster_custom_object_status(
        resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, name, {"status": dict(patch)}
    )
