"""Runs the app plane's pods for the simulated node (`localplatform.kubelet`): as containers
with `runc` from the app-plane image, or as local processes where runc cannot run.

A pod whose container image is the app plane's (`localplatform.specs.runnable`) gets the
environment its pod spec gives (values and Secret/ConfigMap references already resolved by the
kubelet) and a free port on 127.0.0.1 (`UVICORN_HOST`/`UVICORN_PORT`: the node's pods share
the host's network, as `hostNetwork` pods do). `ContainerRuntime` runs the image's own command
with `runc` (`localplatform.containers`), read-only, as the image's non-root user;
`ProcessRuntime` runs `uvicorn app_plane.main:app` from this checkout. Either way the output
goes to one log file per pod and readiness follows the container's HTTP readiness probe.
`localplatform.node` picks the runtime (`choose`, then `make_runtime`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from localplatform import containers, ocispec, procs

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where `make images` writes (images/build.sh honours TENANTRY_IMAGES_DIR too).
IMAGES_DIR = Path(os.environ.get("TENANTRY_IMAGES_DIR") or REPO_ROOT / "build" / "images")
DEFAULT_LAYOUT = IMAGES_DIR / "oci"
APP_PLANE_TAG = "app-plane"


@dataclass
class PodProcess:
    key: str  # namespace/name/uid
    popen: subprocess.Popen[bytes]
    port: int
    probe_path: str
    restarts: int = 0
    container_id: str = ""  # runc's id; "" for a bare process
    image_id: str = ""  # the image's manifest digest; "" for a bare process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def ready(self) -> bool:
        if not self.alive():
            return False
        try:
            with urllib.request.urlopen(self.url + self.probe_path, timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False


class Runtime(Protocol):
    def launch(
        self, key: str, incarnation: int, env: dict[str, str], out: IO[bytes]
    ) -> tuple[subprocess.Popen[bytes], str, str]:
        """Start the pod's app; return its Popen, container id and image id."""

    def halt(self, pod: PodProcess) -> None:
        """Stop what `launch` started, for good."""


def listen_env(port: int) -> dict[str, str]:
    """Where the app listens: the host's loopback, on the pod's own port."""
    return {"UVICORN_HOST": "127.0.0.1", "UVICORN_PORT": str(port)}


def _terminate(popen: subprocess.Popen[bytes]) -> None:
    popen.terminate()
    try:
        popen.wait(timeout=5)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout=5)


class ProcessRuntime:
    """The app plane as a local process of this checkout's Python."""

    def launch(
        self, key: str, incarnation: int, env: dict[str, str], out: IO[bytes]
    ) -> tuple[subprocess.Popen[bytes], str, str]:
        popen = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app_plane.main:app", "--no-access-log"],
            env={"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **env},
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return popen, "", ""

    def halt(self, pod: PodProcess) -> None:
        _terminate(pod.popen)


class ContainerRuntime:
    """The app-plane image's command in a runc container; bundles live under `state_dir`."""

    def __init__(self, image: containers.Image, state_dir: Path) -> None:
        self.image = image
        self.config = image.config()
        self.image_id = image.digest()
        self.rootfs = image.rootfs()
        self.runc = containers.Runc(state_dir / "state")
        self.bundles = state_dir / "bundles"

    def launch(
        self, key: str, incarnation: int, env: dict[str, str], out: IO[bytes]
    ) -> tuple[subprocess.Popen[bytes], str, str]:
        cid = ocispec.container_id(key, incarnation)
        self.runc.delete(cid)  # a leftover of a node that died
        spec = ocispec.runtime_spec(self.config, rootfs=str(self.rootfs), env=env)
        bundle = containers.write_bundle(self.bundles / cid, spec)
        return self.runc.run(cid, bundle, out), cid, self.image_id

    def halt(self, pod: PodProcess) -> None:
        _terminate(pod.popen)  # runc forwards the signal to the container
        self.runc.delete(pod.container_id)
        shutil.rmtree(self.bundles / pod.container_id, ignore_errors=True)

    def clean_up(self) -> None:
        """Delete containers a previous node left behind (SIGKILLed before it could)."""
        for cid in self.runc.containers():
            self.runc.delete(cid)
        shutil.rmtree(self.bundles, ignore_errors=True)


class PodRunner:
    def __init__(self, log_dir: Path, runtime: Runtime) -> None:
        self.log_dir = log_dir
        self.runtime = runtime
        self.pods: dict[str, PodProcess] = {}

    def start(self, key: str, env: dict[str, str], probe_path: str = "/healthz") -> PodProcess:
        if key in self.pods and self.pods[key].alive():
            return self.pods[key]
        previous = self.pods.get(key)
        restarts = previous.restarts + 1 if previous else 0
        if previous:
            self.runtime.halt(previous)
        port = procs.free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / (key.replace("/", "_") + ".log")
        with log.open("ab") as out:
            popen, cid, image_id = self.runtime.launch(
                key, restarts, {**env, **listen_env(port)}, out
            )
        self.pods[key] = PodProcess(key, popen, port, probe_path, restarts, cid, image_id)
        return self.pods[key]

    def stop(self, key: str) -> None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self.runtime.halt(pod)

    def stop_all(self) -> None:
        for key in list(self.pods):
            self.stop(key)


def choose(setting: str, *, layout: Path) -> tuple[ocispec.Runtime, str]:
    """The runtime `setting` (auto, runc or process) asks for on this machine, and why; quick,
    and ImageError when `runc` is asked for and cannot run."""
    runc_found, umoci_found = containers.tools_found()
    return ocispec.choose_runtime(
        setting,
        runc_found=runc_found,
        umoci_found=umoci_found,
        root=os.geteuid() == 0,
        image_error=containers.Image(layout, APP_PLANE_TAG).problem()
        if runc_found and umoci_found
        else None,
    )


def make_runtime(kind: ocispec.Runtime, *, layout: Path, state_dir: Path) -> Runtime:
    """The runtime `choose` picked; for runc, the image unpacked (if it is not yet) and the
    containers of a previous node deleted."""
    if kind == "process":
        return ProcessRuntime()
    container_runtime = ContainerRuntime(containers.Image(layout, APP_PLANE_TAG), state_dir)
    container_runtime.clean_up()
    return container_runtime
