"""A simulated node, in the spirit of kwok: it makes a control plane without kubelets usable.

It registers a Ready Node and renews its Lease, binds every unscheduled pod to itself, reports
pods Running with an IP, and finishes the deletion of terminating pods (what a kubelet would
confirm). Pods of the app plane really run, as local processes (`localplatform.pods`): their
readiness follows the process's probe and their URL is in the annotation `sim.tenantry.dev/url`.
Other images are only marked Running and Ready. Run as `python -m localplatform.node
--kubeconfig FILE`; `make dev` and the test suite start it under the Supervisor.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import ipaddress
import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from localplatform import pods

NODE_NAME = "tenantry-sim-node"
URL_ANNOTATION = "sim.tenantry.dev/url"
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
log = logging.getLogger("localplatform.node")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SimulatedNode:
    def __init__(
        self, api: client.ApiClient, runner: pods.PodRunner, name: str = NODE_NAME
    ) -> None:
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.name = name
        self.runner = runner
        self._next_ip = 2
        self._ips: dict[str, str] = {}
        self._lock = threading.Lock()
        self._reported: dict[str, bool] = {}  # runner key -> readiness last written

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

    # -- pods ------------------------------------------------------------------------------
    def _ref(self, namespace: str, ref: dict[str, Any], kind: str) -> dict[str, str]:
        read = (
            self.core.read_namespaced_secret
            if kind == "secret"
            else self.core.read_namespaced_config_map
        )
        obj = read(ref["name"], namespace)
        if kind == "secret":
            return {k: base64.b64decode(v).decode() for k, v in (obj.data or {}).items()}
        return dict(obj.data or {})

    def resolve_env(self, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
        """The container's environment as a kubelet would give it (values, refs, envFrom)."""
        namespace = pod["metadata"]["namespace"]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                env.update(self._ref(namespace, source["secretRef"], "secret"))
            if "configMapRef" in source:
                env.update(self._ref(namespace, source["configMapRef"], "configmap"))
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = str(var["value"])
                continue
            value_from = var.get("valueFrom", {})
            if "secretKeyRef" in value_from:
                ref = value_from["secretKeyRef"]
                env[var["name"]] = self._ref(namespace, ref, "secret")[ref["key"]]
            elif "configMapKeyRef" in value_from:
                ref = value_from["configMapKeyRef"]
                env[var["name"]] = self._ref(namespace, ref, "configmap")[ref["key"]]
            elif "fieldRef" in value_from:
                path = value_from["fieldRef"]["fieldPath"]
                env[var["name"]] = str(
                    {"metadata.name": pod["metadata"]["name"], "metadata.namespace": namespace}.get(
                        path, ""
                    )
                )
        return env

    def _write_status(self, pod: dict[str, Any], *, ready: bool, restarts: int = 0) -> None:
        meta, spec = pod["metadata"], pod.get("spec", {})
        now = _now()
        ip = self.pod_ip(meta["uid"])
        containers = [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": c.get("image", ""),
                "ready": ready,
                "started": True,
                "restartCount": restarts,
                "containerID": f"sim://{meta['uid']}/{c['name']}",
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
            self.core.patch_namespaced_pod_status(meta["name"], meta["namespace"], body)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _run(self, pod: dict[str, Any], container: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = f"{meta['namespace']}/{meta['name']}/{meta['uid']}"
        with self._lock:
            if key in self.runner.pods and self.runner.pods[key].alive():
                return
            probe = ((container.get("readinessProbe") or {}).get("httpGet") or {}).get(
                "path", "/healthz"
            )
            process = self.runner.start(key, self.resolve_env(pod, container), probe)
            self._reported[key] = False
        log.info("pod %s/%s runs at %s", meta["namespace"], meta["name"], process.url)
        self.core.patch_namespaced_pod(
            meta["name"],
            meta["namespace"],
            {"metadata": {"annotations": {URL_ANNOTATION: process.url}}},
        )
        self._write_status(pod, ready=False, restarts=process.restarts)

    def handle_pod(self, pod: dict[str, Any]) -> None:
        meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
        namespace, name = meta["namespace"], meta["name"]
        if meta.get("deletionTimestamp"):
            if spec.get("nodeName") in (None, self.name):
                with self._lock:
                    key = f"{namespace}/{name}/{meta['uid']}"
                    self.runner.stop(key)
                    self._reported.pop(key, None)
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
        if spec["nodeName"] != self.name:
            return
        app = next(
            (c for c in spec.get("containers", []) if pods.runnable(c.get("image", ""))), None
        )
        if app is not None:
            self._run(pod, app)
        elif status.get("phase") != "Running":
            self._write_status(pod, ready=True)

    def watch_readiness(self, stop: threading.Event, every: float = 0.25) -> None:
        """Report each running app pod's readiness when it changes; restart exited processes."""
        while not stop.wait(every):
            with self._lock:
                snapshot = list(self.runner.pods.items())
            for key, process in snapshot:
                namespace, name, _uid = key.split("/")
                try:
                    if not process.alive():
                        log.warning(
                            "pod %s/%s exited with %s; restarting",
                            namespace,
                            name,
                            process.popen.returncode,
                        )
                        self._reported.pop(key, None)
                        self.handle_pod(
                            self.core.api_client.sanitize_for_serialization(
                                self.core.read_namespaced_pod(name, namespace)
                            )
                        )
                        continue
                    ready = process.ready()
                    if self._reported.get(key) != ready:
                        raw = self.core.api_client.sanitize_for_serialization(
                            self.core.read_namespaced_pod(name, namespace)
                        )
                        self._write_status(raw, ready=ready, restarts=process.restarts)
                        self._reported[key] = ready
                except ApiException as exc:
                    if exc.status == 404:
                        with self._lock:
                            self.runner.stop(key)
                            self._reported.pop(key, None)
                    else:
                        log.exception("readiness of %s", key)
                except Exception:
                    log.exception("readiness of %s", key)

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
    parser.add_argument(
        "--pod-logs",
        type=Path,
        default=Path("pod-logs"),
        help="where the app plane's pod processes write their output",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    api = config.new_client_from_config(config_file=args.kubeconfig)
    runner = pods.PodRunner(args.pod_logs)
    node = SimulatedNode(api, runner)
    node.register()
    node.renew_lease()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=node.heartbeat_forever, args=(stop,), daemon=True).start()
    threading.Thread(target=node.watch_readiness, args=(stop,), daemon=True).start()
    threading.Thread(target=node.run_pods, args=(stop,), daemon=True).start()
    log.info("simulated node %s ready", node.name)
    try:
        stop.wait()
    finally:
        runner.stop_all()


if __name__ == "__main__":
    main()
