"""What the simulated node writes and reads, as pure functions of literal pod and node data.

The Node, its status and its Lease; a pod's Binding and its status; which container of a pod
really runs (the app plane's image), where its readiness probe points, the environment a
kubelet would give it and the pod IPs. `localplatform.node` and `localplatform.kubelet` send
these documents to the API server; nothing here talks to it.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

APP_IMAGE_PREFIX = "tenantry/app-plane"
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
LEASE_NAMESPACE = "kube-node-lease"
LEASE_SECONDS = 40
CAPACITY = {"cpu": "64", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti"}
PRESSURES = (
    ("MemoryPressure", "SufficientMemory"),
    ("DiskPressure", "NoDiskPressure"),
    ("PIDPressure", "SufficientPID"),
)
VERSION = "v1.36.2-sim"

RefKind = Literal["secret", "configmap"]
# (kind, namespace, name) -> the object's data, decoded: how env resolution reads references.
ReadRef = Callable[[RefKind, str, str], Mapping[str, str]]


def node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "type": "tenantry-simulated",
            },
        },
        "spec": {"podCIDR": str(POD_CIDR)},
    }


def node_status(name: str, *, now: str) -> dict[str, Any]:
    """A Ready node with room for everything and no pressure, heartbeat `now`."""

    def condition(ctype: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": ctype,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    return {
        "capacity": CAPACITY,
        "allocatable": CAPACITY,
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": name},
        ],
        "conditions": [
            condition("Ready", "True", "KubeletReady", "simulated node is ready"),
            *[condition(t, "False", f"KubeletHas{r}", "ok") for t, r in PRESSURES],
        ],
        "nodeInfo": {
            "kubeletVersion": VERSION,
            "kubeProxyVersion": VERSION,
            "containerRuntimeVersion": "sim://1",
            "architecture": "amd64",
            "operatingSystem": "linux",
            "osImage": "simulated",
            "kernelVersion": "sim",
            "machineID": name,
            "systemUUID": name,
            "bootID": name,
        },
    }


def lease(name: str, *, renewed: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": LEASE_NAMESPACE},
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": renewed,
        },
    }


def binding(name: str, namespace: str, *, node_name: str) -> dict[str, Any]:
    """What a scheduler creates to put the pod on `node_name`."""
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": namespace},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
    }


def pod_key(meta: Mapping[str, Any]) -> str:
    """`namespace/name/uid`: one pod incarnation, the key of its process."""
    return f"{meta['namespace']}/{meta['name']}/{meta['uid']}"


def runnable(image: str) -> bool:
    """Whether a container of this image really runs (the app plane's, at any tag)."""
    return image.split(":", 1)[0] == APP_IMAGE_PREFIX


def app_container(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod's first container that really runs, if any."""
    containers = pod.get("spec", {}).get("containers", [])
    return next((c for c in containers if runnable(c.get("image", ""))), None)


def probe_path(container: Mapping[str, Any]) -> str:
    """The path of the container's HTTP readiness probe (`/healthz` when it has none)."""
    probe = (container.get("readinessProbe") or {}).get("httpGet") or {}
    return str(probe.get("path", "/healthz"))


def decode_secret(data: Mapping[str, str] | None) -> dict[str, str]:
    """A Secret's `data`, base64-decoded."""
    return {k: base64.b64decode(v).decode() for k, v in (data or {}).items()}


def container_env(
    pod: Mapping[str, Any], container: Mapping[str, Any], read: ReadRef
) -> dict[str, str]:
    """The container's environment as a kubelet would give it: `envFrom` first, then `env`
    (plain values, Secret and ConfigMap keys, the pod's name and namespace)."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "secretRef" in source:
            env.update(read("secret", namespace, source["secretRef"]["name"]))
        if "configMapRef" in source:
            env.update(read("configmap", namespace, source["configMapRef"]["name"]))
    fields = {"metadata.name": pod["metadata"]["name"], "metadata.namespace": namespace}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
            continue
        value_from = var.get("valueFrom", {})
        if "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            env[var["name"]] = read("secret", namespace, ref["name"])[ref["key"]]
        elif "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            env[var["name"]] = read("configmap", namespace, ref["name"])[ref["key"]]
        elif "fieldRef" in value_from:
            env[var["name"]] = str(fields.get(value_from["fieldRef"]["fieldPath"], ""))
    return env


def pod_status(
    pod: Mapping[str, Any],
    *,
    ip: str,
    ready: bool,
    restarts: int,
    now: str,
    container_id: str = "",
    image_id: str = "",
) -> dict[str, Any]:
    """The status patch of a Running pod on 127.0.0.1 with `ip`, its containers `ready` or not.
    `container_id` and `image_id` name the runc container and image digest that run it
    (`runc://ID`, `IMAGE@DIGEST`, as a kubelet reports them); a pod without them is simulated."""
    meta, spec = pod["metadata"], pod.get("spec", {})
    containers = [
        {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": f"{c.get('image', '').split(':')[0]}@{image_id}"
            if image_id
            else c.get("image", ""),
            "ready": ready,
            "started": True,
            "restartCount": restarts,
            "containerID": f"runc://{container_id}"
            if container_id
            else f"sim://{meta['uid']}/{c['name']}",
            "state": {"running": {"startedAt": now}},
        }
        for c in spec.get("containers", [])
    ]
    flag = "True" if ready else "False"
    conditions = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
        {"type": "Ready", "status": flag, "lastTransitionTime": now},
    ]
    return {
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": "127.0.0.1",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "containerStatuses": containers,
        }
    }


@dataclass
class PodIPs:
    """Pod IPs from POD_CIDR, one per pod uid, kept while the pod exists."""

    _next: int = 2
    _by_uid: dict[str, str] = field(default_factory=dict)

    def of(self, uid: str) -> str:
        if uid not in self._by_uid:
            self._by_uid[uid] = str(POD_CIDR.network_address + self._next)
            self._next += 1
        return self._by_uid[uid]

    def release(self, uid: str) -> None:
        self._by_uid.pop(uid, None)
