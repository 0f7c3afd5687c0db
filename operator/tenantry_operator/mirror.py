"""A live copy of one tenant's tables from one schema to another inside one database: the MIRROR
hop of a move (`moves`), used by `migration` for pool ↔ bridge and for a silo's staging schema.
Every function is idempotent.

Logical replication cannot do this: a subscription applies each change to the table of the same
schema-qualified name, which inside one database is the published table itself. So:

1. `start`, in one transaction: delete the tenant's leftovers in the target, then create, per
   table, a trigger function (in the tenant's own schema of the two) and AFTER INSERT, UPDATE
   and DELETE row triggers on the source whose WHEN clause keeps the tenant's rows. Each writer
   then changes the target in its own transaction: the target never lags. CREATE TRIGGER waits
   for the writers under way (its lock conflicts with theirs), so every write committed later
   fires it; other writers of the table wait that long too (at most `lock_timeout`, 5 s, after
   which the step is retried). The triggers are ENABLE ALWAYS: they also fire for rows a
   subscription applies.
2. `fill`: copy the rows that existed before, in batches in primary-key order, `INSERT ... SELECT
   ... FOR KEY SHARE ... ON CONFLICT DO NOTHING`. The row lock makes a concurrent DELETE wait
   for the batch (or the batch skip a row deleted first), so a deleted row is never copied back;
   a row a writer changed was already written by its trigger, which the copy leaves alone.
3. `stop`: drop the triggers and functions.

Both the triggers' functions and `fill` write with `session_replication_role = replica`, as a
subscription's apply does: the target's foreign keys are not checked row by row (a note may
arrive before its project), and the source's checks keep the data consistent. The functions are
SECURITY DEFINER (owned by the operator's superuser), so the tenant's writers need no privilege
on the target. The fence, verification and switch are `fencing.switch`'s.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from tenantry_core import identity, routing
from tenantry_operator import model, postgres

BATCH = 2000  # rows per batch of `fill`: each locks that many source rows for a moment
_KEY = sql.Identifier(routing.TENANT_COLUMN)
_EVENTS = postgres.ROW_EVENTS
_FUNCTION_PREFIX = "tenantry_move_"


def home(source_schema: str, target_schema: str) -> str:
    """Where the trigger functions live: the tenant's own schema of the two (a bridge schema
    or a staging schema), so that dropping it takes them along."""
    return target_schema if target_schema != "public" else source_schema


def _triggers(tenant_key: identity.TenantKey) -> str:
    """The prefix of the tenant's triggers' names (`postgres.tenant_row_triggers`)."""
    return f"{model.replication_name(tenant_key)}"


def _trigger(tenant_key: identity.TenantKey, event: str) -> str:
    return f"{_triggers(tenant_key)}_{event}"


def _function(table: str) -> str:
    return f"{_FUNCTION_PREFIX}{table}"


def _columns(conn: postgres.Conn, schema: str, table: str) -> tuple[list[str], list[str]]:
    """(every column, the primary key's columns), in table order and key order."""
    relation = sql.Identifier(schema, table).as_string(conn)
    columns = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        (relation,),
    ).fetchall()
    return [str(r[0]) for r in columns], postgres.primary_key(conn, schema, table)


def _names(prefix: str, names: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL(prefix + "{}").format(sql.Identifier(n)) if prefix else sql.Identifier(n)
        for n in names
    )


def _body(target: sql.Identifier, columns: list[str], key: list[str]) -> sql.Composed:
    """A trigger function's body: apply the row's change to the same row of `target`."""
    return sql.SQL(
        "BEGIN\n"
        "  IF TG_OP <> 'INSERT' THEN DELETE FROM {t} WHERE ({k}) = ({old}); END IF;\n"
        "  IF TG_OP <> 'DELETE' THEN\n"
        "    INSERT INTO {t} ({c}) VALUES ({new})\n"
        "    ON CONFLICT ({k}) DO UPDATE SET ({c}) = ROW({excluded});\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END"
    ).format(
        t=target,
        k=_names("", key),
        old=_names("OLD.", key),
        c=_names("", columns),
        new=_names("NEW.", columns),
        excluded=_names("EXCLUDED.", columns),
    )


def _started(conn: postgres.Conn, schema: str, tenant_key: identity.TenantKey) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND g.tgname = ANY (%s)",
        (schema, [_trigger(tenant_key, e) for e in _EVENTS]),
    ).fetchone()
    return int(row[0]) if row else 0


def start(url: str, source_schema: str, target_schema: str, tenant_key: identity.TenantKey) -> None:
    """Triggers that copy each change of the tenant's rows from `source_schema` to
    `target_schema`, after the target's leftovers of an earlier attempt are deleted."""
    fn_schema = home(source_schema, target_schema)
    with postgres.connect(url) as conn:
        tables = postgres.tenant_tables(conn, source_schema)
        if _started(conn, source_schema, tenant_key) == len(_EVENTS) * len(tables):
            return
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '5s'")  # behind a long writer: retried later
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in tables:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                        sql.Identifier(target_schema, table), _KEY
                    ),
                    (tenant_key,),
                )
            for table in tables:
                _create_triggers(conn, table, source_schema, target_schema, fn_schema, tenant_key)


def _create_triggers(
    conn: postgres.Conn,
    table: str,
    source_schema: str,
    target_schema: str,
    fn_schema: str,
    tenant_key: identity.TenantKey,
) -> None:
    columns, key = _columns(conn, source_schema, table)
    function = sql.Identifier(fn_schema, _function(table))
    body = _body(sql.Identifier(target_schema, table), columns, key).as_string(conn)
    conn.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
            "SET search_path = pg_catalog, pg_temp SET session_replication_role = replica AS {}"
        ).format(function, sql.Literal(body))
    )
    conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {}() FROM PUBLIC").format(function))
    postgres.tenant_row_triggers(
        conn,
        sql.Identifier(source_schema, table),
        prefix=_triggers(tenant_key),
        tenant_key=tenant_key,
        function=sql.SQL("{}()").format(function),
        always=True,
    )


def fill(
    url: str,
    source_schema: str,
    target_schema: str,
    tenant_key: identity.TenantKey,
    *,
    batch: int = BATCH,
) -> int:
    """Copy the tenant's rows the triggers have not seen, in batches; returns the rows read."""
    total = 0
    with postgres.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")
        # In a deadlock with a writer (each waiting for a row of the other), the copy gives way:
        # it detects the deadlock first and retries its batch.
        conn.execute("SET deadlock_timeout = '50ms'")
        for table in postgres.tenant_tables(conn, source_schema):
            columns, key = _columns(conn, source_schema, table)
            source, target = (
                sql.Identifier(source_schema, table),
                sql.Identifier(target_schema, table),
            )
            last: tuple[Any, ...] | None = None
            while True:
                try:
                    with conn.transaction():
                        row = conn.execute(
                            _batch(source, target, columns, key, last, batch),
                            (tenant_key, *(last or ())),
                        ).fetchone()
                except psycopg.errors.DeadlockDetected:
                    continue
                if row is None:
                    break
                total += int(row[0])
                last = tuple(row[1:])
    return total


def _batch(
    source: sql.Identifier,
    target: sql.Identifier,
    columns: list[str],
    key: list[str],
    after: tuple[Any, ...] | None,
    size: int,
) -> sql.Composed:
    """Copy the next `size` rows after the key `after`; returns (rows, the last row's key)."""
    bound = (
        sql.SQL("AND ({}) > ({})").format(
            _names("", key), sql.SQL(", ").join(sql.Placeholder() * len(key))
        )
        if after is not None
        else sql.SQL("")
    )
    return sql.SQL(
        "WITH batch AS (SELECT {c} FROM {s} WHERE {tk} = %s {bound} ORDER BY {k} LIMIT {n} "
        "FOR KEY SHARE), "
        "copied AS (INSERT INTO {t} ({c}) SELECT {c} FROM batch ON CONFLICT DO NOTHING) "
        "SELECT (SELECT count(*) FROM batch), {k} FROM batch ORDER BY {k} DESC LIMIT 1"
    ).format(
        c=_names("", columns),
        s=source,
        tk=_KEY,
        bound=bound,
        k=_names("", key),
        n=sql.Literal(size),
        t=target,
    )


def stop(url: str, source_schema: str, target_schema: str, tenant_key: identity.TenantKey) -> None:
    """Drop the tenant's triggers on `source_schema` and their functions."""
    fn_schema = home(source_schema, target_schema)
    with postgres.connect(url) as conn, conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '5s'")
        found = conn.execute(
            "SELECT g.tgname, c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND g.tgname = ANY (%s)",
            (source_schema, [_trigger(tenant_key, e) for e in _EVENTS]),
        ).fetchall()
        for trigger, table in found:
            conn.execute(
                sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                    sql.Identifier(str(trigger)), sql.Identifier(source_schema, str(table))
                )
            )
        functions = conn.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname LIKE %s",
            (fn_schema, _FUNCTION_PREFIX.replace("_", "\\_") + "%"),
        ).fetchall()
        for (function,) in functions:
            conn.execute(
                sql.SQL("DROP FUNCTION IF EXISTS {}()").format(
                    sql.Identifier(fn_schema, str(function))
                )
            )
