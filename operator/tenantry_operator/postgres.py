"""Connections to Postgres, and the lookups every Postgres module of the operator shares.

Used by `grants`, `routes`, `databases`, `replication`, `mirror`, `changelog`, `fencing` and
`snapshots`: one way to connect (a server that does not answer is `DatabaseUnavailable`, which
the reconciler retries), the app tables that hold tenant rows, and their primary keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from tenantry_core import routing

Conn = psycopg.Connection[tuple[Any, ...]]


class DatabaseUnavailable(Exception):
    """A Postgres server could not be reached; the reconcile should be retried."""


@contextmanager
def connect(url: str) -> Iterator[Conn]:
    """An autocommit connection to `url`."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip()) from exc
    with conn:
        yield conn


def tenant_tables(
    conn: Conn, schema: str = "public", column: str = routing.TENANT_COLUMN
) -> list[str]:
    """The app tables in `schema` that carry tenant rows (have a `column`, the tenant key)."""
    rows = conn.execute(
        """SELECT c.table_name FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.column_name = %s AND t.table_type = 'BASE TABLE'
              AND c.table_schema = %s ORDER BY c.table_name""",
        (column, schema),
    ).fetchall()
    return [str(r[0]) for r in rows]


def primary_key(conn: Conn, schema: str, table: str) -> list[str]:
    """The columns of the table's primary key, in key order."""
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
        (sql.Identifier(schema, table).as_string(conn),),
    ).fetchall()
    return [str(r[0]) for r in rows]


# A tenant's row triggers: the event's suffix, its verb, and which row names the tenant.
ROW_EVENTS = {"i": ("INSERT", "NEW"), "u": ("UPDATE", "OLD"), "d": ("DELETE", "OLD")}


def tenant_row_triggers(
    conn: Conn,
    source: sql.Identifier,
    *,
    prefix: str,
    tenant_key: str,
    function: sql.Composable,
    always: bool = False,
) -> None:
    """(Re)create the AFTER ... FOR EACH ROW triggers named `prefix` + `_` + event on `source`
    that call `function` (with its arguments) for the rows of one tenant only; `always`: they
    fire for replicated changes too. Used by `mirror` and `changelog`."""
    for event, (verb, row) in ROW_EVENTS.items():
        name = sql.Identifier(f"{prefix}_{event}")
        conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(name, source))
        conn.execute(
            sql.SQL(
                "CREATE TRIGGER {} AFTER {} ON {} FOR EACH ROW WHEN ({}.{} = {}) "
                "EXECUTE FUNCTION {}"
            ).format(
                name,
                sql.SQL(verb),
                source,
                sql.SQL(row),
                sql.Identifier(routing.TENANT_COLUMN),
                sql.Literal(tenant_key),
                function,
            )
        )
        if always:
            conn.execute(sql.SQL("ALTER TABLE {} ENABLE ALWAYS TRIGGER {}").format(source, name))


def role_exists(conn: Conn, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def end_sessions(conn: Conn, role: str) -> None:
    """End every session the role has open on this server."""
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
    )
