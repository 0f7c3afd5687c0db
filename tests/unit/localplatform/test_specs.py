"""The simulated node's documents, from literal pods: what it writes to the API server."""

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from localplatform import specs

NOW = "2026-01-01T00:00:00Z"


def pod(*containers: dict[str, Any], node: str | None = "n1") -> dict[str, Any]:
    return {
        "metadata": {"name": "app-0", "namespace": "tenant-acme", "uid": "u-1"},
        "spec": {"containers": list(containers), **({"nodeName": node} if node else {})},
    }


def test_the_node_is_ready_without_pressure() -> None:
    status = specs.node_status("n1", now=NOW)
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "Ready": ("True", "KubeletReady"),
        "MemoryPressure": ("False", "KubeletHasSufficientMemory"),
        "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
        "PIDPressure": ("False", "KubeletHasSufficientPID"),
    }
    assert all(c["lastHeartbeatTime"] == NOW for c in status["conditions"])
    assert status["allocatable"] == status["capacity"]
    assert specs.node("n1")["spec"]["podCIDR"] == "10.244.0.0/16"


def test_the_lease_is_held_by_the_node() -> None:
    lease = specs.lease("n1", renewed="2026-01-01T00:00:00+00:00")
    assert lease["metadata"] == {"name": "n1", "namespace": "kube-node-lease"}
    assert lease["spec"]["holderIdentity"] == "n1"
    assert lease["spec"]["renewTime"] == "2026-01-01T00:00:00+00:00"


def test_a_binding_targets_the_node() -> None:
    assert specs.binding("app-0", "tenant-acme", node_name="n1") == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "app-0", "namespace": "tenant-acme"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
    }


@pytest.mark.parametrize(
    ("image", "runs"),
    [
        ("tenantry/app-plane:dev", True),
        ("tenantry/app-plane", True),
        ("tenantry/app-plane-debug:dev", False),
        ("busybox", False),
    ],
)
def test_only_the_app_planes_image_really_runs(image: str, runs: bool) -> None:
    assert specs.runnable(image) is runs


def test_the_app_container_is_the_first_runnable_one() -> None:
    sidecar = {"name": "proxy", "image": "envoy"}
    app = {"name": "app", "image": "tenantry/app-plane:dev"}
    assert specs.app_container(pod(sidecar, app)) == app
    assert specs.app_container(pod(sidecar)) is None


def test_the_probe_path_defaults_to_healthz() -> None:
    assert specs.probe_path({"readinessProbe": {"httpGet": {"path": "/ready"}}}) == "/ready"
    assert specs.probe_path({"readinessProbe": {"exec": {"command": ["true"]}}}) == "/healthz"
    assert specs.probe_path({}) == "/healthz"


def test_the_pod_key_is_one_incarnation() -> None:
    assert specs.pod_key(pod()["metadata"]) == "tenant-acme/app-0/u-1"


def test_a_containers_environment_is_resolved_as_a_kubelet_would() -> None:
    objects: dict[tuple[str, str, str], Mapping[str, str]] = {
        ("secret", "tenant-acme", "db"): specs.decode_secret(
            {"URL": base64.b64encode(b"postgresql://db").decode(), "USER": "dXNlcg=="}
        ),
        ("configmap", "tenant-acme", "tier"): {"TIER": "enterprise", "MODE": "silo"},
    }
    reads: list[tuple[str, str, str]] = []

    def read(kind: specs.RefKind, namespace: str, name: str) -> Mapping[str, str]:
        reads.append((kind, namespace, name))
        return objects[(kind, namespace, name)]

    container = {
        "envFrom": [{"secretRef": {"name": "db"}}, {"configMapRef": {"name": "tier"}}],
        "env": [
            {"name": "MODE", "value": "dedicated"},  # env wins over envFrom
            {"name": "REPLICAS", "value": 2},
            {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "URL"}}},
            {"name": "PLAN", "valueFrom": {"configMapKeyRef": {"name": "tier", "key": "TIER"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        ],
    }
    assert specs.container_env(pod(container), container, read) == {
        "URL": "postgresql://db",
        "USER": "user",
        "TIER": "enterprise",
        "MODE": "dedicated",
        "REPLICAS": "2",
        "DB": "postgresql://db",
        "PLAN": "enterprise",
        "POD": "app-0",
        "NS": "tenant-acme",
        "HOST": "",
    }
    assert {namespace for _, namespace, _ in reads} == {"tenant-acme"}


@pytest.mark.parametrize("ready", [True, False])
def test_a_pod_runs_with_its_ip_and_readiness(ready: bool) -> None:
    body = specs.pod_status(
        pod({"name": "app", "image": "tenantry/app-plane:dev"}),
        ip="10.244.0.7",
        ready=ready,
        restarts=3,
        now=NOW,
    )["status"]
    flag = "True" if ready else "False"
    assert body["phase"] == "Running"
    assert (body["podIP"], body["podIPs"], body["hostIP"]) == (
        "10.244.0.7",
        [{"ip": "10.244.0.7"}],
        "127.0.0.1",
    )
    assert {c["type"]: c["status"] for c in body["conditions"]} == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": flag,
        "Ready": flag,
    }
    [container] = body["containerStatuses"]
    assert (container["name"], container["ready"], container["restartCount"]) == ("app", ready, 3)
    assert container["containerID"] == "sim://u-1/app"


def test_each_pod_keeps_its_ip_until_released() -> None:
    ips = specs.PodIPs()
    first, second = ips.of("a"), ips.of("b")
    assert (first, second) == ("10.244.0.2", "10.244.0.3")
    assert ips.of("a") == first
    ips.release("a")
    assert ips.of("a") == "10.244.0.4"


def test_a_pod_in_a_container_reports_its_container_and_image_digest() -> None:
    body = specs.pod_status(
        pod({"name": "app", "image": "tenantry/app-plane:dev"}),
        ip="10.244.0.7",
        ready=True,
        restarts=0,
        now=NOW,
        container_id="tenant-acme_app-0_u-1.0",
        image_id="sha256:abc",
    )["status"]
    [container] = body["containerStatuses"]
    assert container["containerID"] == "runc://tenant-acme_app-0_u-1.0"
    assert container["imageID"] == "tenantry/app-plane@sha256:abc"
