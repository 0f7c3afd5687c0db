"""A moving tenant's change log in its source database: the primary key of every row of the
tenant that a transaction inserts, updates or deletes, with that transaction's id. Used by
`fencing` (which rows changed since the point it verified) and by `migration` (dropped with the
move's copies). Every function is idempotent.

The log is a table `tenantry_move.<replication name>` fed by AFTER row triggers on the source
tables (WHEN the row is the tenant's), through a SECURITY DEFINER function, so the tenant's
writers need no privilege on it. Each entry carries `pg_current_xact_id()`: the rows changed
since a snapshot are the entries whose transaction that snapshot does not see
(`pg_visible_in_snapshot`), whatever order the transactions committed in. CREATE TRIGGER waits
for the writers under way, so every write committed after `ensure` is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import sql

from tenantry_core import identity
from tenantry_operator import model, postgres

SCHEMA = "tenantry_move"
_EVENTS = postgres.ROW_EVENTS
_BODY = """DECLARE r jsonb;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    r := to_jsonb(OLD);
    INSERT INTO {log} (tbl, pk) SELECT TG_TABLE_NAME, jsonb_object_agg(k, r -> k)
      FROM unnest(TG_ARGV) k;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    r := to_jsonb(NEW);
    INSERT INTO {log} (tbl, pk) SELECT TG_TABLE_NAME, jsonb_object_agg(k, r -> k)
      FROM unnest(TG_ARGV) k;
  END IF;
  RETURN NULL;
END"""


def _log(tenant_key: identity.TenantKey) -> sql.Identifier:
    return sql.Identifier(SCHEMA, model.replication_name(tenant_key))


def _function(tenant_key: identity.TenantKey) -> sql.Identifier:
    return sql.Identifier(SCHEMA, "tenantry_move_log_" + tenant_key.replace("-", "_"))


def _triggers(tenant_key: identity.TenantKey) -> str:
    """The prefix of the tenant's triggers' names (`postgres.tenant_row_triggers`)."""
    return f"{model.replication_name(tenant_key)}_log"


def _trigger(tenant_key: identity.TenantKey, event: str) -> str:
    return f"{_triggers(tenant_key)}_{event}"


def ensure(url: str, schema: str, tenant_key: identity.TenantKey) -> None:
    """The log and its triggers on every tenant table of `schema`."""
    with postgres.connect(url) as conn:
        tables = postgres.tenant_tables(conn, schema)
        found = conn.execute(
            "SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND g.tgname = ANY (%s)",
            (schema, [_trigger(tenant_key, e) for e in _EVENTS]),
        ).fetchone()
        if found is not None and found[0] == len(_EVENTS) * len(tables):
            return
        log, function = _log(tenant_key), _function(tenant_key)
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '5s'")  # behind a long writer: retried later
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (xid xid8 NOT NULL DEFAULT "
                    "pg_current_xact_id(), tbl text NOT NULL, pk jsonb NOT NULL)"
                ).format(log)
            )
            conn.execute(
                sql.SQL(
                    "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
                    "SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {}"
                ).format(function, sql.Literal(sql.SQL(_BODY).format(log=log).as_string(conn)))
            )
            conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {}() FROM PUBLIC").format(function))
            for table in tables:
                _create_triggers(conn, schema, table, function, tenant_key)


def _create_triggers(
    conn: postgres.Conn,
    schema: str,
    table: str,
    function: sql.Identifier,
    tenant_key: identity.TenantKey,
) -> None:
    key = sql.SQL(", ").join(map(sql.Literal, postgres.primary_key(conn, schema, table)))
    postgres.tenant_row_triggers(
        conn,
        sql.Identifier(schema, table),
        prefix=_triggers(tenant_key),
        tenant_key=tenant_key,
        function=sql.SQL("{}({})").format(function, key),
    )


def snapshot(conn: postgres.Conn) -> str:
    """The snapshot of the transaction under way on `conn` (its first statement takes it)."""
    row = conn.execute("SELECT pg_current_snapshot()::text").fetchone()
    assert row is not None
    return str(row[0])


def changed_since(
    conn: postgres.Conn, tenant_key: identity.TenantKey, since: str
) -> list[tuple[str, Mapping[str, Any]]]:
    """(table, primary key) of every change the snapshot `since` does not see."""
    rows = conn.execute(
        sql.SQL(
            "SELECT tbl, pk FROM {} WHERE NOT pg_visible_in_snapshot(xid, %s::pg_snapshot)"
        ).format(_log(tenant_key)),
        (since,),
    ).fetchall()
    return [(str(table), dict(key)) for table, key in rows]


def prune(conn: postgres.Conn, tenant_key: identity.TenantKey, before: str) -> None:
    """Forget the changes the snapshot `before` sees: a later verification never needs them."""
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE pg_visible_in_snapshot(xid, %s::pg_snapshot)").format(
            _log(tenant_key)
        ),
        (before,),
    )


def stop(url: str, tenant_key: identity.TenantKey) -> None:
    """Drop the triggers (with their function) and the log."""
    with postgres.connect(url) as conn, conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '5s'")
        conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {}() CASCADE").format(_function(tenant_key)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_log(tenant_key)))
