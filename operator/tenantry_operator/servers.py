"""The catalog of servers, `tenantry.servers` in the home pool database: every declared pool
shard and silo server, with the tenants placed there and the tenant rows stored there.

The operator upserts the declared servers at start-up and refreshes their figures about once a
minute (`handlers`); the control plane only reads the table. `fleet` is what the placement
policy (`placement`) weighs for a new tenant: tenants counted live from the routing table, rows
from the last refresh.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from tenantry_core import routing
from tenantry_operator import model, placement, postgres, provisioner, settings

TABLE = "tenantry.servers"
POOL, SILO = "pool", "silo"


def _home(cfg: settings.OperatorSettings) -> str:
    return cfg.admin_url(cfg.pool_database)


def declare(cfg: settings.OperatorSettings, silos: Sequence[provisioner.Server]) -> None:
    """Upsert every declared server (figures untouched; `refresh` sets them)."""
    rows: list[tuple[str, str, str, int, str | None]] = []
    for name in cfg.shard_names:
        host, port = cfg.shard_address(name)
        rows.append((name, POOL, host, port, cfg.shard_database(name)))
    rows += [(s.name, SILO, s.public_host, s.public_port, None) for s in silos]
    with postgres.connect(_home(cfg)) as conn, conn.transaction():
        for row in rows:
            conn.execute(
                f"INSERT INTO {TABLE} (name, kind, host, port, database) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                "kind = EXCLUDED.kind, host = EXCLUDED.host, port = EXCLUDED.port, "
                "database = EXCLUDED.database, updated_at = now()",
                row,
            )


def _tenant_rows(url: str) -> int:
    """The tenant rows of one database: its tenant tables in every schema but the catalog's
    (live tuples by the statistics: a figure to balance by, not an audit)."""
    with postgres.connect(url) as conn:
        found = conn.execute(
            "SELECT coalesce(sum(s.n_live_tup), 0) FROM pg_stat_user_tables s "
            "JOIN information_schema.columns c ON c.table_schema = s.schemaname "
            "AND c.table_name = s.relname AND c.column_name = %s "
            "WHERE s.schemaname <> 'tenantry'",
            (routing.TENANT_COLUMN,),
        ).fetchone()
    return int(found[0]) if found else 0


def _silo_rows(server: provisioner.Server) -> int:
    with postgres.connect(server.url("postgres")) as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                (model.SILO_DATABASE_PREFIX,),
            ).fetchall()
        ]
    return sum(_tenant_rows(server.url(name)) for name in names)


def refresh(cfg: settings.OperatorSettings, silos: Sequence[provisioner.Server]) -> None:
    """Count the tenants placed on each declared server and the rows stored there."""
    counted = tenants(cfg)
    figures = {name: _tenant_rows(cfg.shard_url(name)) for name in cfg.shard_names}
    figures |= {server.name: _silo_rows(server) for server in silos}
    with postgres.connect(_home(cfg)) as conn, conn.transaction():
        for name, rows in figures.items():
            conn.execute(
                f"UPDATE {TABLE} SET tenants = %s, rows = %s, updated_at = now() WHERE name = %s",
                (counted.get(name, 0), rows, name),
            )


def tenants(cfg: settings.OperatorSettings) -> dict[str, int]:
    """Tenants placed on each server now, from the routing table."""
    with postgres.connect(_home(cfg)) as conn:
        found = conn.execute(
            sql.SQL(
                "SELECT server, count(*) FROM {} WHERE retained_at IS NULL GROUP BY server"
            ).format(sql.SQL(routing.ROUTING_TABLE))
        ).fetchall()
    return {str(name): int(count) for name, count in found}


def fleet(cfg: settings.OperatorSettings, isolation: model.Isolation) -> placement.Fleet:
    """The servers a new tenant of `isolation` may go to (pool shards, or silo servers), what
    each holds, which are cordoned, and their labels: what the placement policy weighs."""
    silo = isolation is model.Isolation.SILO
    kind = SILO if silo else POOL
    names = [s.name for s in provisioner.declared(cfg.silo_urls)] if silo else cfg.shard_names
    counted = tenants(cfg)
    with postgres.connect(_home(cfg)) as conn:
        stored = dict(
            conn.execute(f"SELECT name, rows FROM {TABLE} WHERE kind = %s", (kind,)).fetchall()
        )
    return placement.Fleet(
        kind=placement.kind_of(isolation),
        declared=tuple(names),
        loads={
            name: placement.Load(counted.get(name, 0), int(stored.get(name) or 0))
            for name in names
        },
        cordoned=frozenset(cfg.cordoned_servers),
        labels=cfg.server_labels,
    )
