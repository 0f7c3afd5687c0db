"""Postgres I/O of a live migration: logical replication of one tenant between two databases
(the REPLICATE hop of `moves`), the write fence, verification and the routing switch. Used by
`migration`; every function is idempotent.

One tenant's rows stream from the source database to the target with a publication whose row
filter is `tenant_key = <key>`, a slot created in the source, and a subscription in the target
that uses that slot (created separately: inside one server a subscription cannot create its own
slot). The fence is an advisory lock: every app transaction takes it shared before it reads the
routing row, the migrator takes it exclusively, so writers wait instead of failing.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

from psycopg import conninfo, sql

from tenantry_core import identity, routing
from tenantry_operator import model, postgres

FENCE_CLASS = routing.FENCE_CLASS
_KEY = sql.Identifier(routing.TENANT_COLUMN)


@dataclass(frozen=True)
class Side:
    """One end of a migration: a database (superuser URL) and the schema of the tables."""

    url: str
    schema: str = "public"


def _conninfo(url: str) -> str:
    return conninfo.make_conninfo("", **conninfo.conninfo_to_dict(url))


def tables(side: Side) -> list[str]:
    with postgres.connect(side.url) as conn:
        return postgres.tenant_tables(conn, side.schema)


def start(source: Side, target: Side, tenant_key: identity.TenantKey) -> None:
    """Publication and slot in the source, subscription in the target (which copies, then
    streams). The target's tables must hold none of the tenant's rows."""
    name = model.replication_name(tenant_key)
    names = tables(source)
    with postgres.connect(source.url) as conn:
        if not conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)).fetchone():
            conn.execute(
                sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                    sql.Identifier(name),
                    sql.SQL(", ").join(
                        sql.SQL("{} WHERE ({} = {})").format(
                            sql.Identifier(source.schema, t), _KEY, sql.Literal(tenant_key)
                        )
                        for t in names
                    ),
                )
            )
        if not conn.execute(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (name,)
        ).fetchone():
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
    with postgres.connect(target.url) as conn:
        if conn.execute("SELECT 1 FROM pg_subscription WHERE subname = %s", (name,)).fetchone():
            return
        for table in names:  # leftovers of an earlier, discarded attempt
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                    sql.Identifier(target.schema, table), _KEY
                ),
                (tenant_key,),
            )
        # run_as_owner: apply as the subscription's (superuser) owner, not as the tables' owner,
        # whom FORCE ROW LEVEL SECURITY binds.
        conn.execute(
            sql.SQL(
                "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (create_slot = false, "
                "slot_name = {}, copy_data = true, run_as_owner = true)"
            ).format(
                sql.Identifier(name),
                sql.Literal(_conninfo(source.url)),
                sql.Identifier(name),
                sql.Literal(name),
            )
        )


def copied(target: Side, tenant_key: identity.TenantKey) -> tuple[bool, int]:
    """(initial copy finished for every table, rows of the tenant in the target)."""
    name = model.replication_name(tenant_key)
    with postgres.connect(target.url) as conn:
        pending = conn.execute(
            "SELECT count(*) FROM pg_subscription_rel r "
            "JOIN pg_subscription s ON s.oid = r.srsubid "
            "WHERE s.subname = %s AND r.srsubstate <> 'r'",
            (name,),
        ).fetchone()
    return (pending is not None and pending[0] == 0), rows(target, tenant_key)


def rows(side: Side, tenant_key: identity.TenantKey) -> int:
    """The tenant's rows in the tables of `side`."""
    total = 0
    with postgres.connect(side.url) as conn:
        for table in postgres.tenant_tables(conn, side.schema):
            found = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                    sql.Identifier(side.schema, table), _KEY
                ),
                (tenant_key,),
            ).fetchone()
            total += int(found[0]) if found else 0
    return total


def lag_bytes(source: Side, tenant_key: identity.TenantKey) -> int | None:
    with postgres.connect(source.url) as conn:
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) "
            "FROM pg_replication_slots WHERE slot_name = %s",
            (model.replication_name(tenant_key),),
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _checksums(
    conn: postgres.Conn, schema: str, names: list[str], tenant_key: identity.TenantKey
) -> dict[str, tuple[int, str]]:
    result = {}
    for table in names:
        row = conn.execute(
            sql.SQL(
                # Order-independent: a sum of 64-bit hashes of whole rows needs no sort.
                "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text "
                "FROM {} t WHERE {} = %s"
            ).format(sql.Identifier(schema, table), _KEY),
            (tenant_key,),
        ).fetchone()
        count, digest = row if row else (0, "")
        result[table] = (int(count), str(digest))
    return result


def checksums(side: Side, tenant_key: identity.TenantKey) -> dict[str, tuple[int, str]]:
    """Per table: (rows, sum of 64-bit hashes of the rows) of the tenant's rows."""
    with postgres.connect(side.url) as conn:
        return _checksums(conn, side.schema, postgres.tenant_tables(conn, side.schema), tenant_key)


class VerificationFailed(Exception):
    """Source and target differ after the final catch-up in `tables`; the message says how."""

    def __init__(self, tables: list[str], message: str) -> None:
        super().__init__(message)
        self.tables = tables


@dataclass(frozen=True)
class Switched:
    write_block_ms: int
    rows: int


def fenced_switch(
    pool_url: str,
    fence_urls: list[str],
    source: Side,
    target: Side,
    tenant_key: identity.TenantKey,
    switch_sql: sql.Composed,
    *,
    deadline: float = 3.0,
) -> Switched:
    """Block the tenant's writes, let the target catch up, verify it equals the source, switch
    the routing row and release. On a mismatch the fence is released with routing unchanged.

    Every connection is open before the fence is taken, so writers wait only for the work."""
    with ExitStack() as stack:
        fences = [
            stack.enter_context(postgres.connect(url))
            for url in dict.fromkeys([pool_url, *fence_urls])
        ]
        sides = [
            (stack.enter_context(postgres.connect(side.url)), side) for side in (source, target)
        ]
        names = postgres.tenant_tables(sides[0][0], source.schema)
        workers = stack.enter_context(ThreadPoolExecutor(2))

        def digest(pair: tuple[postgres.Conn, Side]) -> dict[str, tuple[int, str]]:
            return _checksums(pair[0], pair[1].schema, names, tenant_key)

        started = time.monotonic()
        try:
            for conn in fences:
                conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (FENCE_CLASS, tenant_key))
            # Flush the source's WAL now, so the last writes reach the walsender at once rather
            # than at the WAL writer's next round (synchronous_commit = off).
            sides[0][0].execute("SELECT pg_logical_emit_message(false, 'tenantry', 'fence', true)")
            while True:
                mine, theirs = workers.map(digest, sides)
                if mine == theirs:
                    break
                if time.monotonic() - started > deadline:
                    differing = sorted(t for t in mine if mine.get(t) != theirs.get(t))
                    raise VerificationFailed(
                        differing,
                        f"tables {', '.join(differing)} differ after the final catch-up: "
                        + "; ".join(
                            f"{t}: source {mine.get(t)} target {theirs.get(t)}" for t in differing
                        ),
                    )
                time.sleep(0.002)
            fences[0].execute(switch_sql)
            return Switched(
                int((time.monotonic() - started) * 1000), sum(n for n, _ in mine.values())
            )
        finally:
            for conn in fences:
                conn.execute("SELECT pg_advisory_unlock_all()")


def stop(
    source: Side | None, target: Side | None, tenant_key: identity.TenantKey, *, wait: float = 10.0
) -> None:
    """Remove subscription, slot and publication, in the order that lets each go. A side whose
    database is already gone has nothing left to remove."""
    name = model.replication_name(tenant_key)
    subscription = _drop_subscription(target, name) if target is not None else None
    if source is not None:
        _drop_slot_and_publication(source, name, subscription, wait)


def _drop_subscription(target: Side, name: str) -> int | None:
    """Drop the subscription; returns its oid (its table-sync slots are named after it)."""
    with postgres.connect(target.url) as conn:
        row = conn.execute("SELECT oid FROM pg_subscription WHERE subname = %s", (name,)).fetchone()
        if not row:
            return None
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(ident))
        conn.execute(sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(ident))
        conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(ident))
        return int(row[0])


def _drop_slot_and_publication(
    source: Side, name: str, subscription: int | None, wait: float
) -> None:
    with postgres.connect(source.url) as conn:
        slots = [name]
        if subscription is not None:  # table-sync slots of an interrupted initial copy
            slots += [
                str(r[0])
                for r in conn.execute(
                    "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s",
                    (f"pg\\_{subscription}\\_sync\\_%",),
                ).fetchall()
            ]
        for slot in slots:
            deadline = time.monotonic() + wait
            while True:  # a walsender exits shortly after its subscription is disabled
                row = conn.execute(
                    "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,)
                ).fetchone()
                if row is None:
                    break
                if row[0] is None:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                    break
                if time.monotonic() > deadline:
                    conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                time.sleep(0.05)
        conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name)))
