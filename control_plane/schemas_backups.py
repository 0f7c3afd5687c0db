"""Response bodies of the backups API (api.routes.backups): a tenant's scheduled backups, read
from its Tenant's status (camelCase there, snake_case here).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


class BackupPublic(BaseModel):
    """One scheduled backup kept (an entry of status.backups)."""

    name: str
    time: dt.datetime | None = None
    rows: int = 0
    size_bytes: int = 0

    @classmethod
    def from_status(cls, entry: Mapping[str, Any]) -> BackupPublic:
        return cls(
            name=str(entry.get("name", "")),
            time=entry.get("time") or None,
            rows=int(entry.get("rows") or 0),
            size_bytes=int(entry.get("sizeBytes") or 0),
        )


class BackupsPublic(BaseModel):
    """The tenant's scheduled backups kept after pruning, newest last, as mirrored from its
    Tenant (empty when its Tier takes none)."""

    tenant_id: uuid.UUID
    slug: str
    items: list[BackupPublic]
