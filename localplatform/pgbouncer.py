"""PgBouncer in transaction mode in front of the local Postgres, for the tests that run the app
plane behind it (`tests/integration/test_pgbouncer.py`).

Runs Debian's `pgbouncer` (installed by `make test`, or `apt-get install pgbouncer`) under the
platform's Supervisor on 127.0.0.1, with one database entry per pool database it fronts and its
users' passwords in a userlist (SCRAM to both sides). As root it runs as the Postgres system
user (PgBouncer refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from localplatform import procs

ADMIN_USER = "pgbouncer"  # may run SHOW POOLS / SHOW SERVERS on the admin console


def binary() -> str | None:
    """The pgbouncer executable, if installed (Debian puts it in /usr/sbin)."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def config(
    *,
    port: int,
    server_port: int,
    databases: list[str],
    pool_size: int,
    userlist: Path,
    pidfile: Path,
) -> str:
    """pgbouncer.ini: `databases` on 127.0.0.1:`server_port`, each with `pool_size` server
    connections per user, in transaction mode."""
    entries = "\n".join(f"{db} = host=127.0.0.1 port={server_port} dbname={db}" for db in databases)
    return (
        f"[databases]\n{entries}\n\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
        "max_client_conn = 500\n"
        "auth_type = scram-sha-256\n"
        f"auth_file = {userlist}\n"
        f"admin_users = {ADMIN_USER}\n"
        f"pidfile = {pidfile}\n"
        "ignore_startup_parameters = extra_float_digits\n"
        "server_reset_query =\n"
        "log_connections = 0\nlog_disconnections = 0\n"
    )


def userlist(users: dict[str, str]) -> str:
    """The auth_file: each user with its plain password (SCRAM needs it to log in upstream)."""
    return "".join(f"{_quoted(user)} {_quoted(password)}\n" for user, password in users.items())


@dataclass
class PgBouncer:
    """One PgBouncer: `start()` writes its files into `state_dir` and runs it."""

    state_dir: Path
    port: int
    server_port: int
    databases: list[str]
    users: dict[str, str]
    pool_size: int

    def start(self, supervisor: procs.Supervisor, *, name: str = "pgbouncer") -> procs.Process:
        executable = binary()
        if executable is None:
            raise procs.StartupError("pgbouncer is not installed (apt-get install pgbouncer)")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        users_file = self.state_dir / "userlist.txt"
        users_file.write_text(userlist(self.users))
        ini = self.state_dir / "pgbouncer.ini"
        ini.write_text(
            config(
                port=self.port,
                server_port=self.server_port,
                databases=self.databases,
                pool_size=self.pool_size,
                userlist=users_file,
                pidfile=self.state_dir / "pgbouncer.pid",
            )
        )
        user = _run_as()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (self.state_dir, users_file, ini):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            for parent in self.state_dir.parents:
                parent.chmod(parent.stat().st_mode | 0o011)
        users_file.chmod(0o600)
        process = supervisor.start(name, [executable, str(ini)], user=user)
        supervisor.wait_ready(process, self._listening, timeout=30)
        return process

    def _listening(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def url(self, database: str, user: str) -> str:
        """A libpq URL of `database` through this PgBouncer, as `user`."""
        return f"postgresql://{user}:{self.users[user]}@127.0.0.1:{self.port}/{database}"


def _run_as() -> str | None:
    """As root, the Postgres system user the local server already runs as."""
    if os.geteuid() != 0:
        return None
    from localplatform import postgres

    pwd.getpwnam(postgres.SYSTEM_USER)  # created when the local Postgres first started
    return postgres.SYSTEM_USER
