"""Child processes of the local platform: ports, readiness, and stopping a whole process group."""

import socket
import sys
from pathlib import Path

import pytest

from localplatform import procs
from tests.conftest import eventually


def test_the_preferred_port_when_free_else_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        other = procs.free_port(busy)
        assert other != busy
    assert procs.free_port(other) == other


def test_the_log_tail_is_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {n}\n" for n in range(50)))
    assert procs.log_tail(log, lines=2) == "line 48\nline 49"
    assert procs.log_tail(tmp_path / "missing.log") == "(no log)"


def test_a_process_that_exits_fails_its_start_with_its_log(tmp_path: Path) -> None:
    supervisor = procs.Supervisor(tmp_path)
    crashing = supervisor.start("crash", [sys.executable, "-c", "print('no config'); exit(3)"])
    with pytest.raises(procs.StartupError, match=r"crash exited with 3[\s\S]*no config"):
        supervisor.wait_ready(crashing, lambda: False, timeout=30)
    supervisor.stop_all()


def test_stopping_ends_the_process_and_what_it_spawned(tmp_path: Path) -> None:
    supervisor = procs.Supervisor(tmp_path)
    marker = tmp_path / "child.pid"
    # A parent that spawns a child; both sleep until stopped (their workload, not a wait).
    parent = supervisor.start(
        "parent",
        [
            sys.executable,
            "-c",
            "import pathlib, subprocess, sys, time;"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
            f"pathlib.Path({str(marker)!r}).write_text(str(child.pid));"
            "time.sleep(600)",
        ],
    )
    supervisor.wait_ready(parent, lambda: bool(marker.read_text()), timeout=30)
    child = int(marker.read_text())
    supervisor.kill(parent)
    assert not parent.alive()
    assert supervisor.processes == []
    eventually(lambda: _ended(child), timeout=10, what=f"the spawned process {child} ended")


def _ended(pid: int) -> bool:
    """Gone, or a zombie (ended, waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_chosen_port_is_outside_the_range_outgoing_connections_take() -> None:
    ports = {procs.free_port() for _ in range(20)}
    assert all(port in procs.LISTEN_PORTS for port in ports), ports
