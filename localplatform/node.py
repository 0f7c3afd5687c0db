"""A simulated node, in the spirit of kwok: it makes a control plane without kubelets usable.

It registers a Ready Node and renews its Lease, binds every unscheduled pod to itself, reports
pods Running and Ready with an IP, and finishes the deletion of terminating pods (what a kubelet
would confirm). Run as `python -m localplatform.node --kubeconfig FILE`; `make dev` and the test
suite start it under the Supervisor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import logging
import threading
import time
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

NODE_NAME = "tenantry-sim-node"
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
log = logging.getLogger("localplatform.node")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SimulatedNode:
    def __init__(self, api: client.ApiClient, name: str = NODE_NAME) -> None:
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.name = name
        self._next_ip = 2
        self._ips: dict[str, str] = {}

    # -- node and lease ------------------------------------------------------------------------
    def register(self) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": {
                    "kubernetes.io/hostname": self.name,
                    "kubernetes.io/os": "linux",
                    "type": "tenantry-simulated",
                },
            },
            "spec": {"podCIDR": str(POD_CIDR)},
        }
        try:
            self.core.create_node(body)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self.report_node_status()

    def report_node_status(self) -> None:
        now = _now()
        capacity = {"cpu": "64", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti"}
        status = {
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.name},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "simulated node is ready",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                },
                *[
                    {
                        "type": t,
                        "status": "False",
                        "reason": f"KubeletHas{r}",
                        "message": "ok",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    }
                    for t, r in (
                        ("MemoryPressure", "SufficientMemory"),
                        ("DiskPressure", "NoDiskPressure"),
                        ("PIDPressure", "SufficientPID"),
                    )
                ],
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.36.2-sim",
                "kubeProxyVersion": "v1.36.2-sim",
                "containerRuntimeVersion": "sim://1",
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "simulated",
                "kernelVersion": "sim",
                "machineID": self.name,
                "systemUUID": self.name,
                "bootID": self.name,
            },
        }
        self.core.patch_node_status(self.name, {"status": status})

    def renew_lease(self) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        body = {
            "metadata": {"name": self.name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": now},
        }
        try:
            self.coordination.patch_namespaced_lease(self.name, "kube-node-lease", body)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.coordination.create_namespaced_lease("kube-node-lease", body)

    def heartbeat_forever(self, stop: threading.Event, every: float = 10.0) -> None:
        while not stop.wait(every):
            try:
                self.renew_lease()
                self.report_node_status()
            except Exception:  # keep beating through API server restarts
                log.exception("heartbeat failed")

    # -- pods ------------------------------------------------------------------------------------
    def pod_ip(self, uid: str) -> str:
        if uid not in self._ips:
            self._ips[uid] = str(POD_CIDR.network_address + self._next_ip)
            self._next_ip += 1
        return self._ips[uid]

    def handle_pod(self, pod: dict[str, Any]) -> None:
        meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
        namespace, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp"):
            if spec.get("nodeName") in (None, self.name):
                try:
                    self.core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                self._ips.pop(meta["uid"], None)
            return
        if not spec.get("nodeName"):
            binding = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name, "namespace": namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.name},
            }
            try:
                self.core.create_namespaced_pod_binding(
                    name, namespace, binding, _preload_content=False
                )
            except ApiException as exc:
                if exc.status not in (404, 409):
                    raise
            return
        if spec["nodeName"] != self.name or status.get("phase") == "Running":
            return
        now = _now()
        ip = self.pod_ip(meta["uid"])
        containers = [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": c.get("image", ""),
                "ready": True,
                "started": True,
                "restartCount": 0,
                "containerID": f"sim://{meta['uid']}/{c['name']}",
                "state": {"running": {"startedAt": now}},
            }
            for c in spec.get("containers", [])
        ]
        conditions = [
            {"type": t, "status": "True", "lastTransitionTime": now}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        body = {
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
        try:
            self.core.patch_namespaced_pod_status(name, namespace, body)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def run_pods(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                listing = self.core.list_pod_for_all_namespaces(_preload_content=False)
                data = json.loads(listing.data)
                for item in data["items"]:
                    self.handle_pod(item)
                version = data["metadata"]["resourceVersion"]
                stream = watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces,
                    resource_version=version,
                    timeout_seconds=300,
                    deserialize=False,
                )
                for event in stream:
                    if stop.is_set():
                        return
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self.handle_pod(event["object"])
            except Exception:
                log.exception("pod loop failed; relisting")
                time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    api = config.new_client_from_config(config_file=args.kubeconfig)
    node = SimulatedNode(api)
    node.register()
    node.renew_lease()
    stop = threading.Event()
    threading.Thread(target=node.heartbeat_forever, args=(stop,), daemon=True).start()
    log.info("simulated node %s ready", node.name)
    node.run_pods(stop)


if __name__ == "__main__":
    main()
