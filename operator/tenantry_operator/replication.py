"""Postgres I/O of a live migration: logical replication of one tenant between two databases
(the REPLICATE hop of `moves`). Used by `migration` and `fencing` (which owns the write fence,
the verification and the routing switch); every function is idempotent.

One tenant's rows stream from the source database to the target with a publication whose row
filter is `tenant_key = <key>`, a slot created in the source, and a subscription in the target
that uses that slot (created separately: inside one server a subscription cannot create its own
slot). The subscription commits with synchronous_commit = local, so it acknowledges what it
applied at once (`fencing` waits for that acknowledgement while writes are fenced).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from psycopg import conninfo, sql

from tenantry_core import identity, routing
from tenantry_operator import model, postgres

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
                "slot_name = {}, copy_data = true, run_as_owner = true, "
                "synchronous_commit = 'local')"
            ).format(
                sql.Identifier(name),
                sql.Literal(_conninfo(source.url)),
                sql.Identifier(name),
                sql.Literal(name),
            )
        )


def copied(target: Side, tenant_key: identity.TenantKey) -> bool:
    """Whether the initial copy finished for every table."""
    name = model.replication_name(tenant_key)
    with postgres.connect(target.url) as conn:
        pending = conn.execute(
            "SELECT count(*) FROM pg_subscription_rel r "
            "JOIN pg_subscription s ON s.oid = r.srsubid "
            "WHERE s.subname = %s AND r.srsubstate <> 'r'",
            (name,),
        ).fetchone()
    return pending is not None and pending[0] == 0


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
