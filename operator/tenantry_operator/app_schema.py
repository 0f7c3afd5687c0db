"""The app's schema migrations, run out of process (the contract is `tenantry_core.schema`).

Used by `databases` whenever it prepares a placement. The operator never imports the app: it
runs the app's upgrade command in a process of its own (so concurrent reconciles never share
Alembic's global state), and first compares the placement's revision with the app's newest,
which it asks the command for once, so an up-to-date placement costs one query.
"""

from __future__ import annotations

import functools
import os
import subprocess

import psycopg
from psycopg import sql

from tenantry_core import enums
from tenantry_core import schema as contract
from tenantry_operator import settings


class SchemaMigrationFailed(Exception):
    """The app's upgrade command failed; the message carries the end of its error output."""


def _run(argv: list[str], url: str | None = None) -> str:
    env = {**os.environ, **({contract.URL_ENV: url} if url else {})}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise SchemaMigrationFailed(done.stderr.strip()[-800:] or f"exit {done.returncode}")
    return done.stdout.strip()


@functools.cache
def head(command: tuple[str, ...]) -> str:
    """The app's newest revision."""
    return _run(contract.head_argv(command)).splitlines()[-1]


def current(url: str, version_schema: str) -> str | None:
    """The revision a placement is at; None before its first migration."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        found = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL",
            (f"{version_schema}.{contract.VERSION_TABLE}",),
        ).fetchone()
        if not found or not found[0]:
            return None
        row = conn.execute(
            sql.SQL("SELECT version_num FROM {}").format(
                sql.Identifier(version_schema, contract.VERSION_TABLE)
            )
        ).fetchone()
    return str(row[0]) if row else None


def upgrade(
    cfg: settings.OperatorSettings,
    url: str,
    isolation: enums.Isolation,
    schema: str = "public",
) -> None:
    """Bring the placement at `url` (a superuser URL) to the app's newest revision."""
    command = tuple(cfg.migrate_command)
    if current(url, contract.version_schema(isolation, schema)) == head(command):
        return  # the usual case on a re-reconcile
    _run(contract.upgrade_argv(command, isolation, schema), url)
