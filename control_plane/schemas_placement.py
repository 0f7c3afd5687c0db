"""Request and response bodies of the placement API (api.routes.placement): a tenant's moves,
the servers catalog and rebalancing. Kept apart from `schemas` (the other entities) for size;
field names are the API's snake_case, read from the Tenant's camelCase status.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IsolationName = Literal["pool", "bridge", "silo"]
# A pool shard's name (`main`, `shard-b`) or a silo server's (`host:port`).
ServerName = Annotated[
    str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9.:_-]*$")
]
RebalanceBy = Literal["rows", "tenants", "requests"]


class MoveCreate(BaseModel):
    """Where a platform admin moves a tenant: an isolation model and, optionally, a server of
    its kind (default: the current one, or the placement policy's choice on another kind)."""

    model_config = ConfigDict(extra="forbid")
    isolation: IsolationName
    server: ServerName | None = None


class MoveTarget(BaseModel):
    isolation: str
    server: str | None = None


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


class _FromStatus(BaseModel):
    """Read from a status block with camelCase keys."""

    @classmethod
    def from_status(cls, block: Mapping[str, Any]) -> Any:
        return cls.model_validate({name: block.get(_camel(name)) for name in cls.model_fields})


class MigrationPublic(_FromStatus):
    """The tenant's current or last live move (status.migration) and its figures."""

    phase: str | None = None
    source: str | None = None
    source_server: str | None = None
    target: str | None = None
    target_server: str | None = None
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    rows_copied: int | None = None
    replication_lag_bytes: int | None = None
    write_block_ms: int | None = None
    switch_attempts: int | None = None
    duration_ms: int | None = None
    message: str | None = None
    reason: str | None = None


class MovePublic(_FromStatus):
    """A finished move (an entry of status.moves)."""

    source: str | None = None
    source_server: str | None = None
    target: str | None = None
    target_server: str | None = None
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    result: str | None = None
    rows_copied: int | None = None
    write_block_ms: int | None = None
    switch_attempts: int | None = None
    duration_ms: int | None = None
    reason: str | None = None
    backup: str | None = None  # a live restore's: the backup it loaded


class MovesPublic(BaseModel):
    """Where the tenant is, the move asked for (if any), the move under way or the last one,
    and the history (newest last), as mirrored from its Tenant."""

    tenant_id: uuid.UUID
    slug: str
    placement: str | None
    server: str | None
    requested: MoveTarget | None
    running: bool
    current: MigrationPublic | None
    history: list[MovePublic]


class ServerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    kind: str
    host: str
    port: int
    database: str | None
    tenants: int
    rows: int
    updated_at: dt.datetime | None


class ServerList(BaseModel):
    items: list[ServerPublic]


class RebalanceCreate(BaseModel):
    """Even out the pool shards by stored rows, tenant count or requests (yesterday's and
    today's)."""

    model_config = ConfigDict(extra="forbid")
    by: RebalanceBy = "rows"
    tier: (
        Annotated[str, Field(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] | None
    ) = Field(default=None, description="even out only the tenants of this tier")
    dry_run: bool = False
    max_moves: int = Field(default=10, ge=1, le=100, description="moves planned, at most")
    max_concurrent: int = Field(default=2, ge=1, le=10, description="moves running at once")


class PlannedMove(BaseModel):
    tenant_id: uuid.UUID
    slug: str
    isolation: str
    source_server: str
    target_server: str
    load: int
    started: bool = False


class RebalancePlan(BaseModel):
    """The plan; without dry_run, the moves marked `started` were set going (at most
    max_concurrent running at once): call again once they finished for the rest."""

    by: RebalanceBy
    dry_run: bool
    loads_before: dict[str, int]
    loads_after: dict[str, int]
    spread_before: int
    spread_after: int
    running: int
    moves: list[PlannedMove]
