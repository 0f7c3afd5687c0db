"""The control plane's Kubernetes access: the Tenant resource a registry row stands for, apply
and delete it, list and watch Tenants and Tiers.

Talks to the cluster in KUBECONFIG (or in-cluster config) with the plain `kubernetes` client.
Used by workers.outbox (apply, delete) and workers.mirror (list, watch).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from control_plane import models
from tenantry_core import kubeclient, resources

GROUP, VERSION = resources.GROUP, resources.VERSION


class KubeUnavailable(Exception):
    """The API server could not be reached or refused the request."""


def tenant_resource(tenant: models.Tenant) -> dict[str, Any]:
    """The Tenant custom resource the control plane owns for a registry row."""
    return {
        "apiVersion": resources.API_VERSION,
        "kind": resources.TENANT_KIND,
        "metadata": {
            "name": tenant.tenant_key,
            "labels": {
                resources.LABEL_TENANT_ID: str(tenant.id),
                resources.LABEL_MANAGED_BY: resources.CONTROL_PLANE_FIELD_MANAGER,
            },
        },
        "spec": {
            "tier": tenant.tier,
            "displayName": tenant.company,
            "suspended": tenant.suspended,
            **({"owner": {"email": tenant.owner_email}} if tenant.owner_email else {}),
        },
    }


@functools.cache
def _api() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kubeclient.api_client())


def apply_tenant(body: dict[str, Any], *, field_manager: str) -> dict[str, Any]:
    """Server-side apply a Tenant; the fields we set become ours."""
    try:
        response = _api().patch_cluster_custom_object(
            GROUP,
            VERSION,
            resources.TENANT_PLURAL,
            body["metadata"]["name"],
            body,
            field_manager=field_manager,
            force=True,
            _content_type="application/apply-patch+yaml",
            _preload_content=False,
        )
    except ApiException as exc:
        raise KubeUnavailable(f"{exc.status} {exc.reason}: {exc.body!s:.500}") from exc
    except Exception as exc:  # urllib3 connection errors and the like
        raise KubeUnavailable(str(exc)) from exc
    return dict(json.loads(response.data))


def delete_tenant(name: str) -> bool:
    """Delete a Tenant (the operator offboards it by its deletionPolicy); False if gone."""
    try:
        _api().delete_cluster_custom_object(GROUP, VERSION, resources.TENANT_PLURAL, name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise KubeUnavailable(f"{exc.status} {exc.reason}: {exc.body!s:.500}") from exc
    except Exception as exc:
        raise KubeUnavailable(str(exc)) from exc
    return True


def list_objects(plural: str) -> tuple[list[dict[str, Any]], str]:
    """All objects of a plural (tenants, tiers) and the list's resourceVersion."""
    response = _api().list_cluster_custom_object(GROUP, VERSION, plural, _preload_content=False)
    data = json.loads(response.data)
    return list(data["items"]), str(data["metadata"]["resourceVersion"])


def watch_objects(
    plural: str, resource_version: str, timeout_seconds: int = 300
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event type, object) pairs from `resource_version` on; ends after the timeout.

    With deserialize=False the client hands over each event's object as a plain dict."""
    stream = watch.Watch().stream(
        _api().list_cluster_custom_object,
        GROUP,
        VERSION,
        plural,
        resource_version=resource_version,
        timeout_seconds=timeout_seconds,
        deserialize=False,
    )
    for event in stream:
        if event["type"] == "ERROR":
            raise KubeUnavailable(str(event["object"]))
        yield event["type"], dict(event["object"])
