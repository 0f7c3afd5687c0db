"""Apply the app plane's Alembic migrations to a pool, a bridge schema or a silo database.

The operator runs `python -m app_plane.upgrade` (see `tenantry_core.schema`), out of process,
when it prepares a placement. `python -m app_plane.migrate` (the `tenantry-migrate` command)
brings every bridge schema and silo database to the newest revision, with progress, one
transaction per tenant (safe to re-run after an interruption) and a report of the tenants that
failed. Objects are created as the non-login role `tenantry_owner`: the roles the app connects
with never own the tables they read.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
import typer
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tenantry_core import enums, routing, urls
from tenantry_core import schema as schema_contract

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(urls.sqlalchemy_url(url), poolclass=sa.pool.NullPool)


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def head() -> str:
    return str(ScriptDirectory.from_config(config()).get_current_head())


def upgrade(
    url: str,
    *,
    isolation: enums.Isolation = enums.Isolation.POOL,
    schema: str = "public",
    revision: str = "head",
) -> None:
    """Upgrade one placement at `url` (a superuser connection) to `revision`, atomically.

    Alembic keeps its running context in module globals: one migration at a time per process
    (the operator runs each in a process of its own)."""
    version_schema = schema_contract.version_schema(isolation, schema)
    if revision == "head" and current(url, schema=version_schema) == head():
        return  # nothing to do
    engine = _engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"SET LOCAL ROLE {routing.OWNER_ROLE}"))
            connection.execute(sa.text("SELECT set_config('search_path', :s, true)"), {"s": schema})
            cfg = config()
            cfg.attributes.update(connection=connection, mode=isolation.value, schema=schema)
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
    tenant_key: str
    isolation: enums.Isolation
    url: str
    schema: str


def placement(
    pool_url: str,
    *,
    tenant_key: str,
    isolation: enums.Isolation,
    schema: str,
    host: str | None,
    port: int | None,
    database: str | None,
) -> Placement:
    """Where one tenant's tables are, from its routing row: a bridge schema in the home pool
    database, or in the pool shard's database the row names; a silo's database on its own
    server. A database on the pool's server is reached with the pool URL's credentials, one
    on another server as the pool URL's user (not its password)."""
    if not database:
        return Placement(tenant_key, isolation, pool_url, schema)
    parts = urlsplit(pool_url)
    host, port = host or parts.hostname, port or parts.port
    if (host, port) == (parts.hostname, parts.port):
        return Placement(
            tenant_key, isolation, parts._replace(path=f"/{database}").geturl(), schema
        )
    netloc = f"{parts.username}@{host}:{port}" if parts.username else f"{host}:{port}"
    url = parts._replace(netloc=netloc, path=f"/{database}").geturl()
    return Placement(tenant_key, isolation, url, schema)


def placements(pool_url: str) -> list[Placement]:
    """Every bridge schema and silo database, from the routing table of the pool."""
    engine = _engine(pool_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    f"SELECT {routing.TENANT_COLUMN}, placement, schema_name, db_host, db_port, "
                    f"db_name FROM {routing.ROUTING_TABLE} WHERE placement IN ('bridge', 'silo') "
                    f"AND retained_at IS NULL ORDER BY {routing.TENANT_COLUMN}"
                )
            ).all()
    finally:
        engine.dispose()
    return [
        placement(
            pool_url,
            tenant_key=tenant,
            isolation=enums.Isolation(isolation),
            schema=schema_name,
            host=host,
            port=port,
            database=database,
        )
        for tenant, isolation, schema_name, host, port, database in rows
    ]


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
    moved = 0
    for number, placement in enumerate(todo, 1):
        label = (
            f"[{number}/{len(todo)}] {placement.tenant_key} "
            f"({placement.isolation}, {placement.schema})"
        )
        try:
            before = current(placement.url, schema=placement.schema)
            upgrade(
                placement.url,
                isolation=placement.isolation,
                schema=placement.schema,
                revision=revision,
            )
            after = current(placement.url, schema=placement.schema)
        except Exception as exc:  # report and go on: one tenant must not stop the others
            failed.append((placement.tenant_key, str(exc).splitlines()[0]))
            typer.echo(f"{label}: FAILED: {failed[-1][1]}")
            continue
        moved += before != after
        typer.echo(
            f"{label}: {before or 'empty'} -> {after}"
            if before != after
            else f"{label}: already at {after}"
        )
    current_ = len(todo) - len(failed) - moved
    typer.echo(f"{moved} migrated, {current_} already current, {len(failed)} failed")
    for tenant, error in failed:
        typer.echo(f"  failed: {tenant}: {error}")
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    cli()
