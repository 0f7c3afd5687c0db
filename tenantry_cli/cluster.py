"""The cluster as the `tenantry` CLI sees it: Tenant resources and their Events, read and patched
with the kubernetes client (KUBECONFIG, through `tenantry_core.kubeclient`).
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tenantry_core import kubeclient, resources


class NoSuchTenant(Exception):
    """No Tenant of that name in the cluster."""


def _custom() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kubeclient.api_client())


def list_tenants() -> list[dict[str, Any]]:
    found = _custom().list_cluster_custom_object(resources.GROUP, resources.VERSION, "tenants")
    return [dict(item) for item in found.get("items", [])]


def get_tenant(name: str) -> dict[str, Any]:
    try:
        found = _custom().get_cluster_custom_object(
            resources.GROUP, resources.VERSION, "tenants", name
        )
    except client.ApiException as exc:
        if exc.status == 404:
            raise NoSuchTenant(f"no Tenant named {name!r} in the cluster") from exc
        raise
    return dict(found)


def patch_spec(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Merge `spec` into the Tenant's spec; returns the patched Tenant."""
    get_tenant(name)  # a clear error for a name that does not exist
    patched = _custom().patch_cluster_custom_object(
        resources.GROUP, resources.VERSION, "tenants", name, {"spec": spec}
    )
    return dict(patched)


def events(name: str) -> list[dict[str, Any]]:
    """The Tenant's Events in any namespace (kopf posts a cluster-scoped object's in `default`),
    oldest first, as the API serializes them (camelCase, ISO times)."""
    api = kubeclient.api_client()
    found = client.CoreV1Api(api).list_event_for_all_namespaces(
        field_selector=f"involvedObject.kind=Tenant,involvedObject.name={name}"
    )
    serialized: list[dict[str, Any]] = [api.sanitize_for_serialization(e) for e in found.items]
    return sorted(
        serialized,
        key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""),
    )
