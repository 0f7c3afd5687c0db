"""Exports as background jobs, kept in the pool's catalog (`tenantry.exports`).

`create` queues a job (`POST /api/exports`); the `Worker` thread of each shared app replica
claims the oldest queued job, or a running one whose lease ran out (its replica died or was
restarted), with `FOR UPDATE SKIP LOCKED`, so one replica runs a job at a time. It writes the
archive (app_plane.archive) from the tenant's placement (data.tenant_transaction: one snapshot
of its data) to `<id>.zip.partial` in TENANTRY_EXPORT_DIR, renews the lease with each chunk's
progress, then renames the file to `<id>.zip` and marks the job done in one step: a job cut off
anywhere is started again from scratch, and overwrites its own partial file. After
MAX_ATTEMPTS starts a job is failed, with its error. The control plane sees the finished job
and mails the requester (its services.exports). Used by app_plane.main.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app_plane import archive, data, settings

log = logging.getLogger(__name__)
TABLE = "tenantry.exports"
MAX_ATTEMPTS = 3
_COLUMNS = (
    "id, tenant_id, tenant_key, state, attempts, tables_done, rows_done, manifest, size_bytes, "
    "error, created_at, finished_at"
)


def directory() -> Path:
    found = settings.get_settings().TENANTRY_EXPORT_DIR
    assert found is not None
    return found


def path(export_id: str) -> Path:
    """Where a finished export's archive is."""
    return directory() / f"{export_id}.zip"


def create(*, tenant_id: str, tenant_key: str, principal_id: str, kind: str) -> dict[str, Any]:
    """Queue an export of the tenant's data for the principal who asked."""
    with data.pool_engine().begin() as conn:
        row = conn.execute(
            sa.text(
                f"INSERT INTO {TABLE} (tenant_id, tenant_key, requested_by, requested_kind) "
                f"VALUES (:tid, :key, :by, :kind) RETURNING {_COLUMNS}"
            ),
            {"tid": tenant_id, "key": tenant_key, "by": principal_id, "kind": kind},
        ).one()
    return dict(row._mapping)


def find(*, export_id: str, tenant_key: str) -> dict[str, Any] | None:
    """The tenant's export `export_id` (None when it is not this tenant's)."""
    with data.pool_engine().connect() as conn:
        row = conn.execute(
            sa.text(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = :id AND tenant_key = :key"),
            {"id": export_id, "key": tenant_key},
        ).one_or_none()
        conn.rollback()
    return None if row is None else dict(row._mapping)


def claim(lease: dt.timedelta) -> dict[str, Any] | None:
    """Take the oldest job that is queued, or running with its lease run out."""
    with data.pool_engine().begin() as conn:
        row = conn.execute(
            sa.text(
                f"UPDATE {TABLE} SET state = 'running', attempts = attempts + 1, "
                "lease_until = now() + :lease, tables_done = 0, rows_done = 0, error = NULL "
                f"WHERE id = (SELECT id FROM {TABLE} WHERE state = 'queued' "
                "OR (state = 'running' AND lease_until < now()) "
                "ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                f"RETURNING {_COLUMNS}"
            ),
            {"lease": lease},
        ).one_or_none()
    return None if row is None else dict(row._mapping)


def _update(export_id: str, assignments: str, **params: Any) -> None:
    with data.pool_engine().begin() as conn:
        conn.execute(
            sa.text(f"UPDATE {TABLE} SET {assignments} WHERE id = :id AND state = 'running'"),
            {"id": export_id, **params},
        )


def run(job: dict[str, Any], *, lease: dt.timedelta) -> None:
    """Write the job's archive and record the outcome (failed after MAX_ATTEMPTS)."""
    export_id = str(job["id"])
    partial = directory() / f"{export_id}.zip.partial"
    header = {
        "export_id": export_id,
        "tenant_id": str(job["tenant_id"]),
        "tenant_key": job["tenant_key"],
        "created_at": job["created_at"].isoformat(),
    }

    def progress(tables_done: int, rows_done: int) -> None:
        _update(
            export_id,
            "tables_done = :t, rows_done = :r, lease_until = now() + :lease",
            t=tables_done,
            r=rows_done,
            lease=lease,
        )

    try:
        directory().mkdir(parents=True, exist_ok=True)
        with data.tenant_transaction(job["tenant_key"]) as conn:
            manifest = archive.write(conn, partial, header=header, progress=progress)
        os.replace(partial, path(export_id))
    except Exception as exc:
        log.exception("export %s failed (attempt %d)", export_id, job["attempts"])
        partial.unlink(missing_ok=True)
        final = job["attempts"] >= MAX_ATTEMPTS
        _update(
            export_id,
            "state = :s, error = :e, lease_until = now()"
            + (", finished_at = now()" if final else ""),
            s="failed" if final else "running",
            e=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return
    _update(
        export_id,
        "state = 'done', manifest = CAST(:m AS jsonb), size_bytes = :size, "
        "finished_at = now(), lease_until = NULL",
        m=json.dumps(manifest),
        size=path(export_id).stat().st_size,
    )


class Worker:
    """A thread that runs queued exports one at a time, looking every `every` seconds or when
    woken (a new job)."""

    def __init__(self, *, every: float, lease: dt.timedelta) -> None:
        self.every, self.lease = every, lease
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="exports", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                job = claim(self.lease)
            except sa.exc.SQLAlchemyError:
                log.exception("could not claim an export")
                job = None
            if job is not None:
                run(job, lease=self.lease)
                continue
            self.wake.wait(self.every)
            self.wake.clear()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()


_worker: Worker | None = None


def start() -> None:
    """Start this replica's worker (app_plane.main's lifespan, when exports are configured)."""
    global _worker
    cfg = settings.get_settings()
    _worker = Worker(
        every=cfg.TENANTRY_EXPORT_POLL_SECONDS,
        lease=dt.timedelta(seconds=cfg.TENANTRY_EXPORT_LEASE_SECONDS),
    )
    _worker.start()


def wake() -> None:
    if _worker is not None:
        _worker.wake.set()


def stop() -> None:
    if _worker is not None:
        _worker.stop()
