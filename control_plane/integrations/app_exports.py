"""The app plane's finished exports, in the pool's catalog (`tenantry.exports`), read and marked
as the app's role (APP_DATABASE_URL). Used by services.exports.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from control_plane.core import config
from tenantry_core import urls

TABLE = "tenantry.exports"


@dataclass(frozen=True)
class Finished:
    """An export the app plane finished and nobody was told about yet."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    requested_by: str
    requested_kind: str  # "user" | "api_key"
    rows: int
    size_bytes: int


@functools.cache
def _engine(url: str) -> sa.Engine:
    return sa.create_engine(urls.sqlalchemy_url(url), pool_size=1, pool_pre_ping=True)


def _url() -> str | None:
    return config.get_settings().APP_DATABASE_URL


def unnotified(limit: int = 100) -> list[Finished]:
    """Done exports whose requester was not told yet, oldest first (none without
    APP_DATABASE_URL)."""
    url = _url()
    if not url:
        return []
    with _engine(url).connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, tenant_id, requested_by, requested_kind, rows_done, size_bytes "
                f"FROM {TABLE} WHERE state = 'done' AND notified_at IS NULL "
                "ORDER BY finished_at LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
        conn.rollback()
    return [
        Finished(
            r.id, r.tenant_id, r.requested_by, r.requested_kind, int(r.rows_done), int(r.size_bytes)
        )
        for r in rows
    ]


def mark_notified(export_id: uuid.UUID) -> None:
    url = _url()
    if url:
        with _engine(url).begin() as conn:
            conn.execute(
                sa.text(f"UPDATE {TABLE} SET notified_at = now() WHERE id = :id"), {"id": export_id}
            )
