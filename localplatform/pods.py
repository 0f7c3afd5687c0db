"""Runs the app plane's pods as local processes for the simulated node (`localplatform.kubelet`).

A pod whose container image is the app plane's (`localplatform.specs.runnable`) gets a real
`uvicorn app_plane.main:app` process, with the environment its pod spec gives (values and
Secret/ConfigMap references already resolved by the kubelet), on 127.0.0.1 and a free port.
Readiness follows the process's HTTP readiness probe. Processes share the node's process group,
so stopping the node stops them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from localplatform import procs

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class PodProcess:
    key: str  # namespace/name/uid
    popen: subprocess.Popen[bytes]
    port: int
    probe_path: str
    restarts: int = 0

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


class PodRunner:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.pods: dict[str, PodProcess] = {}

    def start(self, key: str, env: dict[str, str], probe_path: str = "/healthz") -> PodProcess:
        if key in self.pods and self.pods[key].alive():
            return self.pods[key]
        restarts = self.pods[key].restarts + 1 if key in self.pods else 0
        port = procs.free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / (key.replace("/", "_") + ".log")
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, *procs.uvicorn_args("app_plane.main:app", port)],
                env={"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **env},
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.pods[key] = PodProcess(key, popen, port, probe_path, restarts)
        return self.pods[key]

    def stop(self, key: str) -> None:
        pod = self.pods.pop(key, None)
        if pod is None:
            return
        pod.popen.terminate()
        try:
            pod.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pod.popen.kill()
            pod.popen.wait(timeout=5)

    def stop_all(self) -> None:
        for key in list(self.pods):
            self.stop(key)
