"""All Kubernetes I/O of the operator: server-side apply (field manager `tenantry`), owner
references, reads, deletes, status patches and Events.

The reconcile steps hand it planned objects; nothing here decides what should exist, but
`apply` says which objects it had to create or change (what drifted, if they were converged).
It learns that from the apply's answer alone, one call per object: the API server stamps our
field manager's entry in `managedFields` only when an apply changes the object, and the uid
changes when it had to be created again (`Seen`). Only an object this process has not applied
yet is read first. A resync sends nothing for an object the child watch (`observed`) shows
just as our last apply of the same left it, so an unchanged fleet costs the API server no
writes; a change by anyone else moves its resourceVersion, and the next apply goes out.
With `handlers`, the only module that imports kopf: for `kopf.adopt`, which a running reconcile
needs. Events on a Tenant are posted here rather than by kopf: kopf files those of a
cluster-scoped object under namespace `default`, where `kubectl describe` does not look.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import functools
import hashlib
import json
import logging
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import kopf
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from tenantry_core import kubeclient, resources
from tenantry_operator import conditions

FIELD_MANAGER = resources.OPERATOR_FIELD_MANAGER
# Events of a cluster-scoped object live in `default`; their involvedObject has no namespace,
# which is what `kubectl describe` asks for (involvedObject.namespace=, with kind, name, uid).
EVENTS_NAMESPACE = "default"
EVENT_SOURCE = "tenantry-operator"
MAX_EVENT_MESSAGE = 1024
APPLIERS = 8  # threads applying the objects of one `apply(..., at_once=True)` together
FULL_EVERY = 300.0  # seconds: each object is applied at least this often (`Applied.still`)
log = logging.getLogger(__name__)


class ApplyError(Exception):
    """The API server refused an object; the message says which and why."""


@functools.cache
def _appliers() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(APPLIERS, thread_name_prefix="apply")


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


@dataclass(frozen=True)
class Seen:
    """What an object looked like after our last apply of it: its uid, and when our field
    manager last changed it (the `time` of its Apply entry in managedFields)."""

    uid: str
    applied: str | None

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> Seen:
        """From an object's metadata, as the API server answered it."""
        entries = meta.get("managedFields") or []
        ours = [
            e.get("time")
            for e in entries
            if e.get("manager") == FIELD_MANAGER
            and e.get("operation") == "Apply"
            and not e.get("subresource")
        ]
        return cls(str(meta["uid"]), str(ours[0]) if ours else None)

    def change(self, after: Seen) -> str | None:
        """How an apply that answered `after` changed an object we last saw as this."""
        if after.uid != self.uid:
            return "missing"  # deleted since, and created again by this apply
        return "changed" if after.applied != self.applied else None


Key = tuple[str, str, str | None, str]  # apiVersion, kind, namespace, name
_SEEN: dict[Key, Seen] = {}  # this process's applies, by object


def _before(resource: Any, obj: Mapping[str, Any]) -> Seen | None:
    """The object as our last apply left it; read from the server only the first time."""
    meta = obj["metadata"]
    key = _key(obj)
    if key in _SEEN:
        return _SEEN[key]
    try:
        found = resource.get(name=meta["name"], namespace=meta.get("namespace"))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise ApplyError(f"{_describe(obj)}: {_reason(exc)}") from exc
    return Seen.of(found.metadata.to_dict())


@dataclass(frozen=True)
class Applied:
    """What our last apply of an object sent (its digest) and got back (its resourceVersion),
    and when (time.monotonic)."""

    digest: str
    resource_version: str
    at: float

    def still(self, digest: str, live: str | None, now: float) -> bool:
        """Whether applying `digest` now would change nothing: the same was applied, the watch's
        newest resourceVersion of the object is the one that apply answered, and it was less
        than FULL_EVERY seconds ago (a child the watch stopped showing, its labels stripped,
        is applied again then)."""
        return (
            digest == self.digest and live == self.resource_version and now - self.at < FULL_EVERY
        )


_APPLIED: dict[Key, Applied] = {}  # this process's last apply of each object
_LIVE: dict[Key, str] = {}  # each watched child's newest resourceVersion (`observed`)


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (str(obj.get("apiVersion")), str(obj.get("kind")), meta.get("namespace"), meta["name"])


def _digest(obj: Mapping[str, Any]) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def observed(obj: Mapping[str, Any], *, deleted: bool) -> None:
    """The child watch saw `obj` (`handlers`): a resync skips applying it while it stays as
    our last apply left it."""
    key = _key(obj)
    if deleted:
        _LIVE.pop(key, None)
        _APPLIED.pop(key, None)
    else:
        _LIVE[key] = str((obj.get("metadata") or {}).get("resourceVersion"))


def _apply_one(obj: Mapping[str, Any]) -> str | None:
    """Server-side apply one object, unless the watch shows it as our last apply of the same
    left it; how it was missing or changed, if it was."""
    key, digest, now = _key(obj), _digest(obj), time.monotonic()
    last = _APPLIED.get(key)
    if last is not None and last.still(digest, _LIVE.get(key), now):
        return None
    resource = _resource(obj["apiVersion"], obj["kind"])
    before = _before(resource, obj)
    try:
        after = resource.server_side_apply(
            body=dict(obj), field_manager=FIELD_MANAGER, force_conflicts=True
        )
    except ApiException as exc:
        raise ApplyError(f"{_describe(obj)}: {_reason(exc)}") from exc
    seen = _SEEN[key] = Seen.of(after.metadata.to_dict())
    _APPLIED[key] = Applied(digest, str(after.metadata.resourceVersion), now)
    how = "missing" if before is None else before.change(seen)
    return None if how is None else f"{_describe(obj)} ({how})"


def apply(objects: Iterable[Mapping[str, Any]], *, at_once: bool = False) -> list[str]:
    """Server-side apply each object in order, taking ownership of the fields we set; returns
    the objects that were missing ("... (missing)") or that the apply changed ("... (changed)").
    An apply that changes nothing writes nothing, so neither its resourceVersion nor our
    field manager's time moves. With `at_once`, for objects that do not need each other (a
    namespace's quota, limits, policy and RBAC): the cluster-scoped ones first, in order, then
    the namespaced ones together, in APPLIERS threads."""
    objects = list(objects)
    if not at_once:
        found = [_apply_one(obj) for obj in objects]
    else:
        first = [obj for obj in objects if not obj["metadata"].get("namespace")]
        rest = [obj for obj in objects if obj["metadata"].get("namespace")]
        found = [_apply_one(obj) for obj in first] + list(_appliers().map(_apply_one, rest))
    return [how for how in found if how]


def _body(owner: Mapping[str, Any]) -> kopf.Body:
    return owner if isinstance(owner, kopf.Body) else kopf.Body(cast(kopf.RawBody, owner))


def apply_owned(
    owner: Mapping[str, Any], objects: list[dict[str, Any]], *, at_once: bool = False
) -> list[str]:
    """Make `owner` (a Tenant's body) the owner of each object, then apply them (`apply`);
    returns what was missing or changed."""
    kopf.adopt(objects, owner=_body(owner))
    return apply(objects, at_once=at_once)


def _shorten(message: str) -> str:
    if len(message) <= MAX_EVENT_MESSAGE:
        return message
    half = MAX_EVENT_MESSAGE // 2 - 2
    return f"{message[:half]}...{message[-half:]}"


def event_body(
    owner: Mapping[str, Any], event: conditions.Event, now: dt.datetime
) -> dict[str, Any]:
    """An Event on a cluster-scoped `owner` (a Tenant's body), as `kubectl describe` finds it."""
    meta = owner["metadata"]
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": EVENTS_NAMESPACE},
        "involvedObject": {
            "apiVersion": owner.get("apiVersion", resources.API_VERSION),
            "kind": owner.get("kind", resources.TENANT_KIND),
            "name": meta["name"],
            "uid": meta.get("uid"),
        },
        "type": event.type,
        "reason": event.reason,
        "message": _shorten(event.message),
        "source": {"component": EVENT_SOURCE},
        "reportingComponent": EVENT_SOURCE,
        "reportingInstance": socket.gethostname(),
        "action": event.reason,
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
    }


def post_event(owner: Mapping[str, Any], event: conditions.Event) -> None:
    """Post an Event on `owner` (a Tenant's body) now. Events help but are not essential: one
    the API server refuses is logged, and the reconcile goes on."""
    body = event_body(owner, event, dt.datetime.now(dt.UTC))
    try:
        client.CoreV1Api(kubeclient.api_client()).create_namespaced_event(EVENTS_NAMESPACE, body)
    except ApiException as exc:
        name = body["involvedObject"]["name"]
        log.warning("event %s on %s not posted: %s", event.reason, name, _reason(exc))


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
    api_version: str,
    kind: str,
    label_selector: str | None = None,
    namespace: str | None = None,
    field_selector: str | None = None,
) -> list[dict[str, Any]]:
    found = _resource(api_version, kind).get(
        label_selector=label_selector, namespace=namespace, field_selector=field_selector
    )
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


def merge_patch(
    api_version: str,
    kind: str,
    name: str,
    patch: Mapping[str, Any],
    namespace: str | None = None,
) -> None:
    _resource(api_version, kind).patch(
        name=name,
        namespace=namespace,
        body=dict(patch),
        content_type="application/merge-patch+json",
    )


def _forget(kind: str, name: str, namespace: str | None) -> None:
    """Drop what `apply` remembers of a deleted object (of a namespace: of all it held)."""
    for key in [
        k
        for k in _SEEN
        if (k[1], k[3], k[2]) == (kind, name, namespace) or (kind == "Namespace" and k[2] == name)
    ]:
        del _SEEN[key]


def delete(api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    """Delete an object in the background; False if it was already gone."""
    _forget(kind, name, namespace)
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


def apply_spec(name: str, uid: str, spec: Mapping[str, Any], *, field_manager: str) -> None:
    """Server-side apply part of the Tenant `name`'s spec as `field_manager` (a Tier's policy
    move), only to the Tenant with `uid`."""
    body = {
        "apiVersion": resources.API_VERSION,
        "kind": resources.TENANT_KIND,
        "metadata": {"name": name, "uid": uid},
        "spec": dict(spec),
    }
    _resource(resources.API_VERSION, resources.TENANT_KIND).server_side_apply(
        body=body, field_manager=field_manager, force_conflicts=True
    )
