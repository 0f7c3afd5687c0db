"""The state of a tenant's live migration, as kept in `status.migration`.

Pure data: `decide` reads it to start, resume or leave a migration, `migration` advances it one
phase at a time, and `status` writes it back. `from_status` and `to_status` keep the JSON keys
of the status block (phase, source, target, started, generation, rowsCopied,
replicationLagBytes, writeBlockMs, reason, message), so an operator of any version resumes it.
Tenants can read that block: its message is neutral, and the raw detail of a failure (`detail`)
is never stored, only logged and posted as an Event for admins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from tenantry_core import enums
from tenantry_operator import moves

Phase = enums.MigrationPhase
Isolation = enums.Isolation

TERMINAL = frozenset({Phase.COMPLETED, Phase.FAILED})
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


def supported(source: Isolation, target: Isolation) -> bool:
    """Whether a live migration can move a tenant's data from `source` to `target` (the move
    matrix of `moves`)."""
    return (source, target) in moves.LIVE


@dataclasses.dataclass(frozen=True)
class MigrationState:
    """Where one live migration is: its phase, its ends, and what it measured so far."""

    phase: Phase
    source: Isolation
    target: Isolation
    started: dt.datetime
    generation: int  # the Tenant's metadata.generation that started it
    rows_copied: int = 0
    replication_lag_bytes: int | None = None
    write_block_ms: int | None = None
    message: str = ""  # neutral: no host, port or raw database error
    reason: str = ""  # CamelCase, set when the migration failed
    detail: str = dataclasses.field(default="", compare=False)  # for admins; not in status

    @property
    def running(self) -> bool:
        return self.phase not in TERMINAL

    @classmethod
    def from_status(cls, block: Mapping[str, Any]) -> MigrationState:
        lag, blocked = block.get("replicationLagBytes"), block.get("writeBlockMs")
        return cls(
            phase=Phase(block["phase"]),
            source=Isolation(block["source"]),
            target=Isolation(block["target"]),
            started=dt.datetime.strptime(str(block["started"]), _STAMP).replace(tzinfo=dt.UTC),
            generation=int(block["generation"]),
            rows_copied=int(block.get("rowsCopied") or 0),
            replication_lag_bytes=None if lag is None else int(lag),
            write_block_ms=None if blocked is None else int(blocked),
            message=str(block.get("message") or ""),
            reason=str(block.get("reason") or ""),
        )

    def to_status(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "source": self.source.value,
            "target": self.target.value,
            "started": self.started.astimezone(dt.UTC).strftime(_STAMP),
            "generation": self.generation,
            "rowsCopied": self.rows_copied,
            "replicationLagBytes": self.replication_lag_bytes,
            "writeBlockMs": self.write_block_ms,
            "message": self.message,
            "reason": self.reason,
        }


def stored(status: Mapping[str, Any]) -> MigrationState | None:
    """The migration recorded in a Tenant's status, if any."""
    block = status.get("migration")
    return MigrationState.from_status(block) if block else None


def begin(
    source: Isolation, target: Isolation, *, generation: int, now: dt.datetime
) -> MigrationState:
    """A new migration, at its first phase."""
    return MigrationState(
        phase=Phase.PROVISIONING,
        source=source,
        target=target,
        started=now.replace(microsecond=0),
        generation=generation,
    )
