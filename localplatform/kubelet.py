"""The simulated node's pods: what a scheduler and a kubelet would do with them.

`Kubelet.sync_forever` lists and watches every pod and hands each to `handle_pod`, which binds
an unscheduled pod to the node, starts the app plane's container (`localplatform.pods`: a runc
container from the app-plane image, or a local process), marks pods of other images Running and
Ready, and finishes the deletion of a terminating pod. `report_readiness_forever` reports each
running app pod's readiness when its probe changes, and restarts a container that exited.
`localplatform.node` runs both loops; the documents they write come from `localplatform.specs`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from localplatform import pods, specs

URL_ANNOTATION = "sim.tenantry.dev/url"
log = logging.getLogger("localplatform.kubelet")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kubelet:
    def __init__(self, core: client.CoreV1Api, runner: pods.PodRunner, *, node_name: str) -> None:
        self.core = core
        self.runner = runner
        self.node_name = node_name
        self.ips = specs.PodIPs()
        self._lock = threading.Lock()  # the runner's pods, and which readiness was reported
        self._reported: dict[str, bool] = {}  # runner key -> readiness last written

    # -- one pod ------------------------------------------------------------------------------
    def handle_pod(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod.get("spec", {})
        if meta.get("deletionTimestamp"):
            if spec.get("nodeName") in (None, self.node_name):
                self._finish_deletion(meta)
            return
        if not spec.get("nodeName"):
            self._bind(meta["name"], meta["namespace"])
            return
        if spec["nodeName"] != self.node_name:
            return
        app = specs.app_container(pod)
        if app is not None:
            self._run(pod, app)
        elif pod.get("status", {}).get("phase") != "Running":
            self._write_status(pod, ready=True)

    def _bind(self, name: str, namespace: str) -> None:
        body = specs.binding(name, namespace, node_name=self.node_name)
        try:
            self.core.create_namespaced_pod_binding(name, namespace, body, _preload_content=False)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    def _finish_deletion(self, meta: Mapping[str, Any]) -> None:
        """Stop the pod's process and confirm the deletion, as a kubelet does."""
        with self._lock:
            key = specs.pod_key(meta)
            self.runner.stop(key)
            self._reported.pop(key, None)
        try:
            self.core.delete_namespaced_pod(meta["name"], meta["namespace"], grace_period_seconds=0)
        except ApiException as exc:
            if exc.status != 404:
                raise
        self.ips.release(meta["uid"])

    def _read_ref(self, kind: specs.RefKind, namespace: str, name: str) -> dict[str, str]:
        if kind == "secret":
            return specs.decode_secret(self.core.read_namespaced_secret(name, namespace).data)
        return dict(self.core.read_namespaced_config_map(name, namespace).data or {})

    def _run(self, pod: dict[str, Any], container: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = specs.pod_key(meta)
        with self._lock:
            if key in self.runner.pods and self.runner.pods[key].alive():
                return
            env = specs.container_env(pod, container, self._read_ref)
            process = self.runner.start(key, env, specs.probe_path(container))
            self._reported[key] = False
        log.info("pod %s/%s runs at %s", meta["namespace"], meta["name"], process.url)
        self.core.patch_namespaced_pod(
            meta["name"],
            meta["namespace"],
            {"metadata": {"annotations": {URL_ANNOTATION: process.url}}},
        )
        self._write_status(pod, ready=False, process=process)

    def _write_status(
        self, pod: dict[str, Any], *, ready: bool, process: pods.PodProcess | None = None
    ) -> None:
        meta = pod["metadata"]
        body = specs.pod_status(
            pod,
            ip=self.ips.of(meta["uid"]),
            ready=ready,
            restarts=process.restarts if process else 0,
            now=now(),
            container_id=process.container_id if process else "",
            image_id=process.image_id if process else "",
        )
        try:
            self.core.patch_namespaced_pod_status(meta["name"], meta["namespace"], body)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _read_pod(self, name: str, namespace: str) -> dict[str, Any]:
        raw: dict[str, Any] = self.core.api_client.sanitize_for_serialization(
            self.core.read_namespaced_pod(name, namespace)
        )
        return raw

    # -- the loops ----------------------------------------------------------------------------
    def sync_forever(self, stop: threading.Event) -> None:
        """List every pod, then watch; list again after any failure."""
        while not stop.is_set():
            try:
                listing = self.core.list_pod_for_all_namespaces(_preload_content=False)
                data = json.loads(listing.data)
                for item in data["items"]:
                    self.handle_pod(item)
                stream = watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces,
                    resource_version=data["metadata"]["resourceVersion"],
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

    def report_readiness_forever(self, stop: threading.Event, every: float = 0.25) -> None:
        """Report each running app pod's readiness when it changes; restart exited processes."""
        while not stop.wait(every):
            with self._lock:
                snapshot = list(self.runner.pods.items())
            for key, process in snapshot:
                try:
                    self._check(key, process)
                except ApiException as exc:
                    if exc.status == 404:
                        with self._lock:
                            self.runner.stop(key)
                            self._reported.pop(key, None)
                    else:
                        log.exception("readiness of %s", key)
                except Exception:
                    log.exception("readiness of %s", key)

    def _check(self, key: str, process: pods.PodProcess) -> None:
        namespace, name, _uid = key.split("/")
        if not process.alive():
            log.warning(
                "pod %s/%s exited with %s; restarting", namespace, name, process.popen.returncode
            )
            self._reported.pop(key, None)
            self.handle_pod(self._read_pod(name, namespace))
            return
        ready = process.ready()
        if self._reported.get(key) != ready:
            pod = self._read_pod(name, namespace)
            self._write_status(pod, ready=ready, process=process)
            self._reported[key] = ready
