"""A simulated node, in the spirit of kwok: it makes a control plane without kubelets usable.

It registers a Ready Node and keeps its status and Lease fresh, and runs the node's pods
(`localplatform.kubelet`): binds every unscheduled pod to itself, reports pods Running with an
IP, and finishes the deletion of terminating pods. Pods of the app plane really run
(`localplatform.pods`): as runc containers from the app-plane image `make images` builds, or as
local processes where runc cannot run (`--pod-runtime`: auto, runc or process). Their readiness
follows the container's probe and their URL is in the annotation `sim.tenantry.dev/url`. Other
images are only marked Running and Ready. Run as `python -m localplatform.node --kubeconfig
FILE`; `localplatform.stack` starts it under the Supervisor for `make dev` and the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import threading
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from localplatform import kubelet, ocispec, pods, specs

NODE_NAME = "tenantry-sim-node"
log = logging.getLogger("localplatform.node")


class SimulatedNode:
    """The Node object and its heartbeat (status and Lease)."""

    def __init__(self, api: client.ApiClient, name: str = NODE_NAME) -> None:
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.name = name

    def register(self) -> None:
        try:
            self.core.create_node(specs.node(self.name))
        except ApiException as exc:
            if exc.status != 409:
                raise
        self.report_node_status()

    def report_node_status(self) -> None:
        status = specs.node_status(self.name, now=kubelet.now())
        self.core.patch_node_status(self.name, {"status": status})

    def renew_lease(self) -> None:
        body = specs.lease(self.name, renewed=dt.datetime.now(dt.UTC).isoformat())
        try:
            self.coordination.patch_namespaced_lease(self.name, specs.LEASE_NAMESPACE, body)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.coordination.create_namespaced_lease(specs.LEASE_NAMESPACE, body)

    def heartbeat_forever(self, stop: threading.Event, every: float = 10.0) -> None:
        while not stop.wait(every):
            try:
                self.renew_lease()
                self.report_node_status()
            except Exception:  # keep beating through API server restarts
                log.exception("heartbeat failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument(
        "--pod-logs",
        type=Path,
        default=Path("pod-logs"),
        help="where the app plane's pods write their output",
    )
    parser.add_argument(
        "--pod-runtime",
        choices=ocispec.SETTINGS,
        default="auto",
        help="runc: containers from the image; process: local processes; auto: runc if it can",
    )
    parser.add_argument(
        "--image-layout",
        type=Path,
        default=pods.DEFAULT_LAYOUT,
        help="the OCI image layout holding the tag app-plane (`make images`)",
    )
    parser.add_argument(
        "--runtime-dir",
        type=Path,
        default=Path("runc"),
        help="runc's state and the containers' bundles",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        kind, reason = pods.choose(args.pod_runtime, layout=args.image_layout)
    except ocispec.ImageError as exc:
        parser.exit(2, f"error: {exc}\n")
    api = config.new_client_from_config(config_file=args.kubeconfig)
    node = SimulatedNode(api)
    node.register()
    node.renew_lease()
    # After registering: unpacking an image not unpacked yet takes a while, and pods wait.
    runtime = pods.make_runtime(
        kind, layout=args.image_layout, state_dir=args.runtime_dir.resolve()
    )
    log.info("app-plane pods run as %s: %s", kind, reason)
    runner = pods.PodRunner(args.pod_logs, runtime)
    node_pods = kubelet.Kubelet(node.core, runner, node_name=node.name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    loops = (node.heartbeat_forever, node_pods.report_readiness_forever, node_pods.sync_forever)
    for loop in loops:
        threading.Thread(target=loop, args=(stop,), daemon=True).start()
    log.info("simulated node %s ready", node.name)
    try:
        stop.wait()
    finally:
        runner.stop_all()


if __name__ == "__main__":
    main()
