"""How the app's schema migrations are run: out of process, by a command the app plane provides.

The app plane owns its schema (Alembic, in `app_plane/migrations`). Whoever prepares a
placement (the operator) runs `python -m app_plane.upgrade` with the placement's superuser URL
in the environment variable `URL_ENV`, never on the command line; it upgrades that one placement
atomically and exits non-zero with the error on stderr. `--print-head` prints the newest
revision instead, so a caller can skip placements already at it: each keeps its revision in
`<version_schema>.alembic_version`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tenantry_core import enums

MODULE = "app_plane.upgrade"
DEFAULT_COMMAND = (sys.executable, "-m", MODULE)
URL_ENV = "TENANTRY_MIGRATE_URL"
VERSION_TABLE = "alembic_version"


def version_schema(isolation: enums.Isolation, schema: str) -> str:
    """Where a placement's revision is kept: beside the routing table in the pool (so `public`
    holds only tenant data), else in the migrated schema itself."""
    return "tenantry" if isolation == enums.Isolation.POOL else schema


def upgrade_argv(
    command: Sequence[str], isolation: enums.Isolation, schema: str, revision: str = "head"
) -> list[str]:
    return [*command, "--isolation", isolation.value, "--schema", schema, "--revision", revision]


def head_argv(command: Sequence[str]) -> list[str]:
    return [*command, "--print-head"]
