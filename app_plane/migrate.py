"""Apply the app plane's Alembic migrations to a pool, a bridge schema or a silo database.

The operator calls `upgrade` when it prepares a placement; `python -m app_plane.migrate` (the
`tenantry-migrate` command) brings every bridge schema and silo database to the newest revision,
with progress, one transaction per tenant (safe to re-run after an interruption) and a report of
the tenants that failed. Objects are created as the non-login role `tenantry_owner`: the roles
the app connects with never own the tables they read.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import threading
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
import typer
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
OWNER_ROLE = "tenantry_owner"


class Mode(enum.StrEnum):
    POOL = "pool"
    BRIDGE = "bridge"
    SILO = "silo"


def _engine(url: str) -> sa.Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def head() -> str:
    return str(ScriptDirectory.from_config(config()).get_current_head())


# Alembic keeps its running context in module globals (alembic.context, alembic.op): two
# migrations at once in one process (the operator's worker threads) would trample each other.
_ALEMBIC = threading.Lock()


def upgrade(
    url: str, *, mode: Mode = Mode.POOL, schema: str = "public", revision: str = "head"
) -> None:
    """Upgrade one placement at `url` (a superuser connection) to `revision`, atomically."""
    version_schema = "tenantry" if mode is Mode.POOL else schema
    if revision == "head" and current(url, schema=version_schema) == head():
        return  # the usual case on a re-reconcile: nothing to do, no lock to wait for
    with _ALEMBIC:
        _upgrade(url, mode=mode, schema=schema, revision=revision)


def _upgrade(url: str, *, mode: Mode, schema: str, revision: str) -> None:
    engine = _engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"SET LOCAL ROLE {OWNER_ROLE}"))
            connection.execute(sa.text("SELECT set_config('search_path', :s, true)"), {"s": schema})
            cfg = config()
            cfg.attributes.update(connection=connection, mode=mode.value, schema=schema)
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def current(url: str, *, schema: str) -> str | None:
    """The revision a placement is at (None before its first migration)."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
            return context.get_current_revision()
    finally:
        engine.dispose()


@dataclasses.dataclass(frozen=True)
class Placement:
    tenant: str
    mode: Mode
    url: str
    schema: str


def placements(pool_url: str) -> list[Placement]:
    """Every bridge schema and silo database, from the routing table of the pool."""
    engine = _engine(pool_url)
    parts = urlsplit(pool_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT tenant_id, placement, schema_name, db_host, db_port, db_name "
                    "FROM tenantry.tenants WHERE placement IN ('bridge', 'silo') "
                    "AND retained_at IS NULL ORDER BY tenant_id"
                )
            ).all()
    finally:
        engine.dispose()
    found = []
    for tenant, placement, schema, host, port, database in rows:
        url = pool_url
        if placement == Mode.SILO:
            netloc = f"{parts.username}@{host}:{port}" if parts.username else f"{host}:{port}"
            url = parts._replace(netloc=netloc, path=f"/{database}").geturl()
        found.append(Placement(tenant, Mode(placement), url, schema))
    return found


cli = typer.Typer(help=__doc__, no_args_is_help=True)


@cli.command()
def tenants(
    pool_url: str = typer.Option(
        ..., envvar="TENANTRY_POOL_ADMIN_URL", help="superuser URL of the pool database"
    ),
    revision: str = "head",
) -> None:
    """Migrate every bridge schema and silo database to `revision`; exit 1 if any failed."""
    todo = placements(pool_url)
    failed: list[tuple[str, str]] = []
    for number, placement in enumerate(todo, 1):
        label = f"[{number}/{len(todo)}] {placement.tenant} ({placement.mode}, {placement.schema})"
        try:
            before = current(placement.url, schema=placement.schema)
            upgrade(placement.url, mode=placement.mode, schema=placement.schema, revision=revision)
            after = current(placement.url, schema=placement.schema)
        except Exception as exc:  # report and go on: one tenant must not stop the others
            failed.append((placement.tenant, str(exc).splitlines()[0]))
            typer.echo(f"{label}: FAILED: {failed[-1][1]}")
            continue
        typer.echo(
            f"{label}: {before or 'empty'} -> {after}"
            if before != after
            else f"{label}: already at {after}"
        )
    typer.echo(f"{len(todo) - len(failed)} migrated, {len(failed)} failed")
    for tenant, error in failed:
        typer.echo(f"  failed: {tenant}: {error}")
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    cli()
