"""Stopping a shared component of the local platform for the fault tests: Postgres with a fast
shutdown (SIGINT to the postmaster), and a clear error where the platform has no API server of
its own to stop."""

import sys
from pathlib import Path

import pytest

from localplatform import postgres, procs, stack

# Stands in for the postmaster: says which shutdown it was asked for, then exits.
POSTMASTER = """
import pathlib, signal, sys, time
said = pathlib.Path(sys.argv[1])
signal.signal(signal.SIGINT, lambda *_: (said.write_text("fast"), sys.exit(0)))
signal.signal(signal.SIGTERM, lambda *_: (said.write_text("smart"), sys.exit(0)))
said.write_text("up")
while True:
    time.sleep(1)
"""


def test_postgres_stops_with_a_fast_shutdown(tmp_path: Path) -> None:
    supervisor = procs.Supervisor(tmp_path / "logs")
    said = tmp_path / "said"
    process = supervisor.start("postgres", [sys.executable, "-c", POSTMASTER, str(said)])
    supervisor.wait_ready(process, lambda: said.read_text() == "up", timeout=30)
    postgres.Postgres(tmp_path / "data", port=1).stop(supervisor, process)
    assert said.read_text() == "fast"
    assert not process.alive()
    assert supervisor.processes == []


def test_no_api_server_to_restart_on_another_cluster(tmp_path: Path) -> None:
    platform = stack.Platform(tmp_path)
    with pytest.raises(procs.StartupError, match="another cluster"):
        platform.stop_api_server()
    with pytest.raises(procs.StartupError, match="another cluster"):
        platform.start_api_server()
    platform.stop_postgres()  # never started: nothing to stop
    assert platform.processes == {}
