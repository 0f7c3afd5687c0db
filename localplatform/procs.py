"""Starting, watching and stopping the child processes of the local platform.

Every process runs in its own process group with its output in a log file, so `stop()` (and
Ctrl-C in `make dev`) ends each one and everything it spawned: no orphans.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("localplatform")


class StartupError(RuntimeError):
    """A process did not become ready; the message carries the tail of its log."""


# Listening ports are chosen below the kernel's ephemeral range (32768-60999 on Linux), from
# which every outgoing connection takes its local port: a port chosen there could be taken by
# a client's connection before the server that was given it binds it.
LISTEN_PORTS = range(20000, 32768)


def free_port(preferred: int | None = None) -> int:
    """Return `preferred` if nothing listens there, else a free port on 127.0.0.1 outside the
    ephemeral range (else any free one)."""
    candidates = [preferred] if preferred else []
    candidates += [*random.sample(LISTEN_PORTS, 64), 0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port or 0))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise StartupError("no free TCP port")


def uvicorn_args(app: str, port: int) -> list[str]:
    """`python -m` arguments that serve an ASGI app on 127.0.0.1:`port`."""
    return ["-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def http_ok(url: str, *, token: str | None = None, ca_file: str | None = None) -> bool:
    """True when GET `url` answers 200 (TLS verified against `ca_file` when given)."""
    import ssl

    request = urllib.request.Request(url)  # noqa: S310 - local URLs we built ourselves
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None


STORES = ("etcd", "postgres")  # what the other processes use: stopped last


@dataclass
class Supervisor:
    """Owns child processes; stops them in reverse start order."""

    log_dir: Path
    processes: list[Process] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        full_env = {**os.environ, **(env or {})}
        with log.open("ab") as out:
            popen = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
                user=user,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def check_alive(self, process: Process) -> None:
        if not process.alive():
            raise StartupError(
                f"{process.name} exited with {process.popen.returncode}; log {process.log}:\n"
                f"{log_tail(process.log)}"
            )

    def wait_ready(self, process: Process, check: Callable[[], bool], *, timeout: float) -> None:
        """Poll `check` until it is True; StartupError if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive(process)
            with contextlib.suppress(Exception):
                if check():
                    return
            time.sleep(0.1)
        raise StartupError(
            f"{process.name} not ready after {timeout:.0f}s; log {process.log}:\n"
            f"{log_tail(process.log)}"
        )

    def stop(self, process: Process, *, grace: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after `grace` seconds."""
        if process.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=5)
        if process in self.processes:
            self.processes.remove(process)

    def kill(self, process: Process) -> None:
        """SIGKILL the process group at once: no graceful shutdown, as when a node dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signal.SIGKILL)
        self.stop(process)

    def stop_all(self, *, grace: float = 10.0) -> None:
        """Stop everything in two waves, each at once: first every process that uses the stores,
        then the stores (etcd, Postgres), so no client sees its store go away while it shuts
        down, and the graces run side by side rather than one after another."""
        running = list(reversed(self.processes))
        stores = [p for p in running if p.name.startswith(STORES)]
        for wave in ([p for p in running if p not in stores], stores):
            started = time.monotonic()
            self._stop_together(wave, grace)
            names = ", ".join(p.name for p in wave)
            log.info("stopped %s in %.1fs", names or "nothing", time.monotonic() - started)

    def _stop_together(self, wave: list[Process], grace: float) -> None:
        for process in wave:
            if process.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in wave:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in wave:
            self.stop(process, grace=0)
