"""The control plane's Kubernetes access: the Tenant resource a registry row stands for, create,
apply and delete it, list and watch Tenants and Tiers.

A tenant's name is claimed in one place, the API server: whoever creates the Tenant first owns
it. The control plane creates its Tenants (never applies over an existing one), records their
uid, and applies later changes only to that uid; a Tenant it did not create is `NameTaken`.

Talks to the cluster in KUBECONFIG (or in-cluster config) with the plain `kubernetes` client.
Used by workers.outbox (apply, delete) and workers.mirror (list, watch, the Tenant CRD).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from control_plane import models
from tenantry_core import kubeclient, resources, tracing

GROUP, VERSION = resources.GROUP, resources.VERSION


class KubeUnavailable(Exception):
    """The API server could not be reached or refused the request."""


class NameTaken(Exception):
    """A Tenant of that name exists and is not the control plane's (another uid, or not ours)."""


def _failed(exc: Exception) -> KubeUnavailable:
    if isinstance(exc, ApiException):
        return KubeUnavailable(f"{exc.status} {exc.reason}: {exc.body!s:.500}")
    return KubeUnavailable(str(exc))  # urllib3 connection errors and the like


def tenant_resource(tenant: models.Tenant) -> dict[str, Any]:
    """The Tenant custom resource the control plane owns for a registry row (with the placement
    a platform admin asked for, services.placement, and the live restore, services.backups); it
    carries the current trace (`tenantry_core.tracing.ANNOTATION`), which the operator's
    reconciles continue."""
    parent = tracing.traceparent()
    return {
        "apiVersion": resources.API_VERSION,
        "kind": resources.TENANT_KIND,
        "metadata": {
            "name": tenant.tenant_key,
            "labels": {
                resources.LABEL_TENANT_ID: str(tenant.id),
                resources.LABEL_MANAGED_BY: resources.CONTROL_PLANE_FIELD_MANAGER,
            },
            **({"annotations": {tracing.ANNOTATION: parent}} if parent else {}),
        },
        "spec": {
            "tier": tenant.tier,
            "displayName": tenant.company,
            "suspended": tenant.suspended,
            **({"owner": {"email": tenant.owner_email}} if tenant.owner_email else {}),
            **({"placement": dict(tenant.placement_request)} if tenant.placement_request else {}),
            **({"restore": dict(tenant.restore_request)} if tenant.restore_request else {}),
        },
    }


@functools.cache
def _api() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kubeclient.api_client())


def get_tenant(name: str) -> dict[str, Any] | None:
    try:
        response = _api().get_cluster_custom_object(
            GROUP, VERSION, resources.TENANT_PLURAL, name, _preload_content=False
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise _failed(exc) from exc
    except Exception as exc:
        raise _failed(exc) from exc
    return dict(json.loads(response.data))


def _ours(found: dict[str, Any], body: dict[str, Any]) -> bool:
    label = resources.LABEL_TENANT_ID
    labels = found.get("metadata", {}).get("labels") or {}
    return bool(labels.get(label)) and labels.get(label) == body["metadata"]["labels"][label]


def create_tenant(body: dict[str, Any], *, field_manager: str) -> dict[str, Any]:
    """Create the Tenant, claiming its name; NameTaken if someone else holds it. A Tenant this
    registry row created before (its tenant-id label) is returned as it is."""
    try:
        response = _api().create_cluster_custom_object(
            GROUP,
            VERSION,
            resources.TENANT_PLURAL,
            body,
            field_manager=field_manager,
            _preload_content=False,
        )
    except ApiException as exc:
        if exc.status != 409:
            raise _failed(exc) from exc
        found = get_tenant(body["metadata"]["name"])
        if found is None or not _ours(found, body):
            raise NameTaken(f"a Tenant named {body['metadata']['name']!r} exists") from exc
        return found
    except Exception as exc:
        raise _failed(exc) from exc
    return dict(json.loads(response.data))


def apply_tenant(
    body: dict[str, Any], *, field_manager: str, uid: str | None = None
) -> dict[str, Any]:
    """Server-side apply our Tenant: the one with `uid` (a precondition the API server checks),
    or, before the registry knew its uid, the one `create_tenant` makes or finds."""
    if uid is None:
        created = create_tenant(body, field_manager=field_manager)
        uid = str(created["metadata"]["uid"])
    name = body["metadata"]["name"]
    try:
        response = _api().patch_cluster_custom_object(
            GROUP,
            VERSION,
            resources.TENANT_PLURAL,
            name,
            {**body, "metadata": {**body["metadata"], "uid": uid}},
            field_manager=field_manager,
            force=True,
            _content_type="application/apply-patch+yaml",
            _preload_content=False,
        )
    except ApiException as exc:
        # 409: ours is gone; 422 on metadata.uid: another Tenant (uid) now has the name.
        if exc.status == 409 or (exc.status == 422 and "metadata.uid" in str(exc.body)):
            raise NameTaken(f"the Tenant {name!r} with uid {uid} is gone") from exc
        raise _failed(exc) from exc
    except Exception as exc:
        raise _failed(exc) from exc
    return dict(json.loads(response.data))


def delete_tenant(name: str, *, uid: str | None = None) -> bool:
    """Delete a Tenant (the operator offboards it by its deletionPolicy); False if gone. With
    `uid`, only that Tenant: another one of the same name is left alone (False)."""
    options = {"preconditions": {"uid": uid}} if uid else {}
    try:
        _api().delete_cluster_custom_object(
            GROUP, VERSION, resources.TENANT_PLURAL, name, body=options
        )
    except ApiException as exc:
        if exc.status == 404 or (uid and exc.status == 409):
            return False
        raise _failed(exc) from exc
    except Exception as exc:
        raise _failed(exc) from exc
    return True


def tenant_crd_served() -> bool:
    """Whether the Tenant CRD exists and is not being deleted. A Tenant deleted while it is not
    went with its CRD (an uninstall): the operator keeps its data, and so does the registry."""
    try:
        crd = client.ApiextensionsV1Api(kubeclient.api_client()).read_custom_resource_definition(
            resources.TENANT_CRD
        )
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise _failed(exc) from exc
    except Exception as exc:
        raise _failed(exc) from exc
    return crd.metadata.deletion_timestamp is None


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
