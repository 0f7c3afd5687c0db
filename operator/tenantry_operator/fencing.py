"""The end of a live move: verify the copy while the tenant keeps writing, then block its
writes for a moment, check what changed since, and point the routing row at the target. Used by
`migration` (its Switching phase; a live restore's switch holds the fence alone, `fenced`);
every step is idempotent.

Why in two parts: a full comparison of source and target is O(tenant size); done while writes
are blocked, the write-block grows with the tenant. So:

1. **Before the fence** (`_verify`): the source's change log (`changelog`, trigger-fed, keys
   of the tenant's changed rows with their transaction ids) is in place. In one REPEATABLE READ
   transaction on the source the snapshot S is taken; a flushed WAL message then marks an LSN
   L that every transaction S sees precedes. Once each replication hop's subscriber has
   received past L (its walsender's `write_lsn`: the apply worker applies what it received
   before it acknowledges it), a REPEATABLE READ transaction on the target takes its snapshot
   T, and both sides are digested per table (`digests`: rows and a sum of row hashes) in
   parallel. The keys the log holds for transactions S does not see are read after that: every
   row on which S and T can legitimately differ is among them. Both digests less the digests of
   those keys' rows (still in S and T) must be equal, or the bulk of the copy differs: tried
   `ATTEMPTS` times, then `VerificationFailed`.
2. **Under the fence** (`_fenced`): the fence is the advisory lock every app transaction of
   the tenant takes shared (in the pool database, and in the silo of a silo source), taken here
   exclusively with a lock_timeout of what is left of `deadline`. One flushed WAL message gives
   the source's current LSN; the subscribers must receive past it (a MIRROR hop is synchronous:
   nothing to wait for). Then only the rows whose keys changed since S are digested on both
   sides, by primary key, in batches. Equal: the routing row is switched and the fence released.
   The clock is read between every two polls and batches, so `deadline` bounds the fenced time:
   past it the fence is released with routing unchanged (`FenceTimedOut`, the move retries
   later), unless the target had caught up and the rows still differ (`VerificationFailed`).

A row changed on the target behind replication's back before S is caught by the first part; a
mismatch that appears on the target only after T on a row the tenant never changes again is not
(that would need a full pass under the fence).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types import json

from tenantry_core import identity, routing
from tenantry_operator import changelog, digests, model, postgres, replication

FENCE_CLASS = routing.FENCE_CLASS
DEADLINE = 0.8  # seconds the tenant's writes may be fenced before the attempt gives way
CATCH_UP = 60.0  # seconds the subscribers may take to reach the verified point
ATTEMPTS = 3  # verifications of the bulk that differ before the move fails
BATCH = 500  # keys digested per query under the fence
_KEY = sql.Identifier(routing.TENANT_COLUMN)

Keys = Mapping[str, list[dict[str, Any]]]


class VerificationFailed(Exception):
    """Source and target differ in `tables`; the message says how."""

    def __init__(self, tables: list[str], message: str) -> None:
        super().__init__(message)
        self.tables = tables


class FenceTimedOut(Exception):
    """The fence (or the catch-up before it) took longer than allowed; routing is unchanged and
    the switch is to be tried again."""


@dataclass(frozen=True)
class Switched:
    write_block_ms: int
    changed_rows: int  # keys checked under the fence


def switch(
    *,
    pool_url: str,
    fence_urls: list[str],
    source: replication.Side,
    target: replication.Side,
    senders: Sequence[str],
    tenant_key: identity.TenantKey,
    switch_sql: sql.Composed,
    deadline: float = DEADLINE,
) -> Switched:
    """Verify, fence, check the changed rows, switch the routing row, release. `senders`: the
    databases whose walsenders feed the move's REPLICATE hops (the slot is the move's)."""
    changelog.ensure(source.url, source.schema, tenant_key)
    names = replication.tables(source)
    for attempt in range(1, ATTEMPTS + 1):
        since, mine, theirs = _verify(source, target, senders, tenant_key, names)
        differing = digests.differing(mine, theirs)
        if not differing:
            break
        if attempt == ATTEMPTS:
            raise VerificationFailed(
                differing,
                f"tables {', '.join(differing)} differ before the fence: "
                + digests.describe(differing, mine, theirs),
            )
    return _fenced(
        pool_url, fence_urls, source, target, senders, tenant_key, switch_sql, since, deadline
    )


def _verify(
    source: replication.Side,
    target: replication.Side,
    senders: Sequence[str],
    tenant_key: identity.TenantKey,
    names: list[str],
) -> tuple[str, dict[str, digests.Digest], dict[str, digests.Digest]]:
    """(S, source's digests at S, target's digests at T), both less the rows changed since S."""
    with ExitStack() as stack:
        mine, theirs, log = (
            stack.enter_context(postgres.connect(url))
            for url in (source.url, target.url, source.url)
        )
        for conn in (mine, theirs):
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            stack.enter_context(conn.transaction())
        since = changelog.snapshot(mine)
        _catch_up(senders, tenant_key, time.monotonic() + CATCH_UP)
        theirs.execute("SELECT 1")  # T: after the target received everything S sees
        with ThreadPoolExecutor(2) as workers:
            whole = list(
                workers.map(
                    lambda pair: _digests(pair[0], pair[1].schema, names, tenant_key),
                    [(mine, source), (theirs, target)],
                )
            )
        changed = digests.changed_keys(changelog.changed_since(log, tenant_key, since))
        parts = [
            _changed_digests(conn, side.schema, changed, tenant_key)
            for conn, side in ((mine, source), (theirs, target))
        ]
        changelog.prune(log, tenant_key, since)
    return since, digests.minus(whole[0], parts[0]), digests.minus(whole[1], parts[1])


def _fenced(
    pool_url: str,
    fence_urls: list[str],
    source: replication.Side,
    target: replication.Side,
    senders: Sequence[str],
    tenant_key: identity.TenantKey,
    switch_sql: sql.Composed,
    since: str,
    deadline: float,
) -> Switched:
    with ExitStack() as stack:
        fences = [
            stack.enter_context(postgres.connect(url))
            for url in dict.fromkeys([pool_url, *fence_urls])
        ]
        mine, theirs = (stack.enter_context(postgres.connect(s.url)) for s in (source, target))
        streams = {url: stack.enter_context(postgres.connect(url)) for url in senders}
        started = time.monotonic()
        ends = started + deadline
        try:
            _take(fences, tenant_key, ends)
            marks = {url: _mark(conn) for url, conn in streams.items()}
            while not all(_received(c, tenant_key, marks[u]) for u, c in streams.items()):
                if time.monotonic() > ends:
                    raise FenceTimedOut("the target did not catch up in time")
                time.sleep(0.002)
            changed = digests.changed_keys(changelog.changed_since(mine, tenant_key, since))
            while True:
                a = _changed_digests(mine, source.schema, changed, tenant_key, ends)
                b = _changed_digests(theirs, target.schema, changed, tenant_key, ends)
                differing = digests.differing(a, b)
                if not differing:
                    break
                if time.monotonic() > ends:
                    raise VerificationFailed(
                        differing,
                        f"tables {', '.join(differing)} differ after the final catch-up: "
                        + digests.describe(differing, a, b),
                    )
                time.sleep(0.005)
            fences[0].execute(switch_sql)
            return Switched(
                int((time.monotonic() - started) * 1000),
                sum(len(found) for found in changed.values()),
            )
        finally:
            for conn in fences:
                conn.execute("SELECT pg_advisory_unlock_all()")


@contextmanager
def fenced(urls: Sequence[str], tenant_key: identity.TenantKey, deadline: float) -> Iterator[int]:
    """Hold the tenant's fence in every database of `urls` (the home pool database first) for
    the body: the tenant's app transactions wait meanwhile (a live restore's switch). Yields
    when it started (time.monotonic, ms); FenceTimedOut if it is not taken within `deadline`."""
    with ExitStack() as stack:
        fences = [stack.enter_context(postgres.connect(url)) for url in dict.fromkeys(urls)]
        started = time.monotonic()
        try:
            _take(fences, tenant_key, started + deadline)
            yield int(started * 1000)
        finally:
            for conn in fences:
                conn.execute("SELECT pg_advisory_unlock_all()")


def _take(fences: list[postgres.Conn], tenant_key: identity.TenantKey, ends: float) -> None:
    """Take the fence in every database, waiting at most until `ends` (writers queue behind a
    waiting exclusive lock, so that wait blocks them too)."""
    for conn in fences:
        left = ends - time.monotonic()
        if left <= 0:
            raise FenceTimedOut("the fence could not be taken in time")
        conn.execute(
            "SELECT set_config('lock_timeout', %s, false)", (f"{max(1, int(left * 1000))}ms",)
        )
        try:
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (FENCE_CLASS, tenant_key))
        except psycopg.errors.LockNotAvailable as exc:
            raise FenceTimedOut("the fence could not be taken in time") from exc


def _mark(conn: postgres.Conn) -> str:
    """Flush the WAL now (the last writes reach the walsender at once, not at the WAL writer's
    next round: synchronous_commit = off) and return its end."""
    row = conn.execute(
        "SELECT pg_logical_emit_message(false, 'tenantry', 'fence', true)::text"
    ).fetchone()
    assert row is not None
    return str(row[0])


def _received(conn: postgres.Conn, tenant_key: identity.TenantKey, lsn: str) -> bool:
    """Whether the move's subscriber acknowledged receiving WAL up to `lsn`."""
    row = conn.execute(
        "SELECT r.write_lsn >= %s::pg_lsn FROM pg_replication_slots s "
        "JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = %s",
        (lsn, model.replication_name(tenant_key)),
    ).fetchone()
    return bool(row and row[0])


def _catch_up(senders: Sequence[str], tenant_key: identity.TenantKey, ends: float) -> None:
    for url in senders:
        with postgres.connect(url) as conn:
            mark = _mark(conn)
            while not _received(conn, tenant_key, mark):
                if time.monotonic() > ends:
                    raise FenceTimedOut("the target did not catch up before the fence")
                time.sleep(0.01)


def _digests(
    conn: postgres.Conn, schema: str, names: list[str], tenant_key: identity.TenantKey
) -> dict[str, digests.Digest]:
    """Per table: the digest of the tenant's rows. Order-independent: a sum of 64-bit hashes of
    whole rows needs no sort."""
    result = {}
    for table in names:
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text "
                "FROM {} t WHERE {} = %s"
            ).format(sql.Identifier(schema, table), _KEY),
            (tenant_key,),
        ).fetchone()
        result[table] = digests.Digest(int(row[0]), int(row[1])) if row else digests.EMPTY
    return result


def _changed_digests(
    conn: postgres.Conn,
    schema: str,
    changed: Keys,
    tenant_key: identity.TenantKey,
    ends: float | None = None,
) -> dict[str, digests.Digest]:
    """Per table: the digest of the tenant's rows with the `changed` keys (found by primary
    key). Past `ends`, FenceTimedOut."""
    result = {}
    for table, keys in changed.items():
        relation = sql.Identifier(schema, table)
        columns = sql.SQL(", ").join(map(sql.Identifier, keys[0]))
        parts = []
        for batch in digests.batches(keys, BATCH):
            if ends is not None and time.monotonic() > ends:
                raise FenceTimedOut("the changed rows took too long to check")
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)"
                    "::text FROM {r} t WHERE t.{tk} = %s AND ({c}) IN "
                    "(SELECT {c} FROM jsonb_populate_recordset(NULL::{r}, %s))"
                ).format(r=relation, tk=_KEY, c=columns),
                (tenant_key, json.Jsonb(batch)),
            ).fetchone()
            parts.append(digests.Digest(int(row[0]), int(row[1])) if row else digests.EMPTY)
        result[table] = digests.add(parts)
    return result
