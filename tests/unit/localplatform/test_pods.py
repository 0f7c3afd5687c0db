"""The pod runner's bookkeeping, with a runtime that records what it was asked to do."""

import subprocess
import sys
from pathlib import Path
from typing import IO

from localplatform import pods


class RecordingRuntime:
    """Starts a real short-lived process for each launch and records launches and halts."""

    def __init__(self) -> None:
        self.launched: list[tuple[str, int, dict[str, str]]] = []
        self.halted: list[str] = []

    def launch(
        self, key: str, incarnation: int, env: dict[str, str], out: IO[bytes]
    ) -> tuple[subprocess.Popen[bytes], str, str]:
        self.launched.append((key, incarnation, env))
        popen = subprocess.Popen([sys.executable, "-c", "pass"], stdout=out)
        return popen, f"c{incarnation}", "sha256:img"

    def halt(self, pod: pods.PodProcess) -> None:
        pod.popen.wait()
        self.halted.append(pod.container_id)


def test_a_pod_listens_on_its_own_port_and_a_restart_replaces_the_exited_run(
    tmp_path: Path,
) -> None:
    runtime = RecordingRuntime()
    runner = pods.PodRunner(tmp_path, runtime)
    first = runner.start("ns/app-0/u1", {"A": "b"})
    first.popen.wait()
    second = runner.start("ns/app-0/u1", {"A": "b"})
    [(_, inc0, env0), (_, inc1, _)] = runtime.launched
    assert (inc0, inc1) == (0, 1)
    assert env0 == {"A": "b", "UVICORN_HOST": "127.0.0.1", "UVICORN_PORT": str(first.port)}
    assert runtime.halted == ["c0"]  # the exited run is cleaned up before the next
    assert (second.restarts, second.container_id, second.image_id) == (1, "c1", "sha256:img")
    assert (tmp_path / "ns_app-0_u1.log").exists()
    runner.stop_all()
    assert runtime.halted == ["c0", "c1"]
    assert runner.pods == {}
