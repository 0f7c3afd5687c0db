"""Request and response bodies of the backups API (api.routes.backups): a tenant's scheduled
backups and its live restores, read from its Tenant's status (camelCase there, snake_case here).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from control_plane import schemas_placement


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


BackupName = Annotated[
    str, Field(min_length=6, max_length=200, pattern=r"^[a-z0-9][-a-z0-9_.]*\.dump$")
]


class RestoreCreate(BaseModel):
    """The backup of the tenant to restore it to (a name `GET .../backups` lists)."""

    model_config = ConfigDict(extra="forbid")
    backup: BackupName


class RestoresPublic(BaseModel):
    """The live restore asked for (if any), whether it is under way, the current or last live
    migration (a restore's names its backup) and the restores done, newest last."""

    tenant_id: uuid.UUID
    slug: str
    requested: dict[str, str] | None
    running: bool
    current: schemas_placement.MigrationPublic | None
    backup: str | None
    history: list[schemas_placement.MovePublic]
