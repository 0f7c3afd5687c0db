"""`make dev`'s command: comes up, writes dev.env, stops every process on Ctrl-C, restarts."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually

pytestmark = pytest.mark.integration


def processes_using(state: Path) -> list[str]:
    """Command lines of live processes that mention the state directory."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(state) in cmdline and int(pid) != os.getpid():
            found.append(cmdline)
    return found


def start(state: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "localplatform.cli", "up", "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def read_env(state: Path) -> dict[str, str]:
    lines = (state / "dev.env").read_text().splitlines()
    pairs = (line.removeprefix("export ").split("=", 1) for line in lines)
    return {key: value.strip('"') for key, value in pairs}


def tier_names(api: str) -> list[str]:
    response = httpx.get(api + "/api/v1/tiers")
    return [t["name"] for t in response.json()] if response.status_code == 200 else []


def test_up_then_ctrl_c_leaves_nothing_behind_and_restarts(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    for attempt in (1, 2):
        up = start(state)
        try:
            eventually(lambda: (state / "dev.env").exists(), timeout=60, what="dev.env")
            env = read_env(state)
            assert set(env) >= {"KUBECONFIG", "DATABASE_URL", "API_URL", "APP_URL"}
            assert httpx.get(env["API_URL"] + "/healthz").json() == {"status": "ok"}
            assert httpx.get(env["APP_URL"] + "/healthz").json() == {"status": "ok"}
            tiers = eventually(functools.partial(tier_names, env["API_URL"]), what="tiers")
            assert len(tiers) == 4, attempt
            assert processes_using(state)
        finally:
            up.send_signal(signal.SIGINT)
            assert up.wait(timeout=60) == 0
        assert processes_using(state) == [], "orphans after Ctrl-C"
        assert not (state / "dev.env").exists()
