"""The state of a tenant's live migration, as kept in `status.migration`.

Pure data: `decide` reads it to start, resume or leave a migration, `migration` advances it one
phase at a time, and `status` writes it back. `from_status` and `to_status` keep the JSON keys
of the status block (phase, source, target, sourceServer, targetServer, started, finished,
durationMs, generation, rowsCopied, replicationLagBytes, writeBlockMs, switchAttempts, reason,
message, and backup for a live restore), so an operator of any version resumes it;
`history_entry` is its line in `status.moves`.
Tenants can read that block: its message is neutral, and the raw detail of a failure (`detail`)
is never stored, only logged and posted as an Event for admins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from tenantry_core import enums
from tenantry_operator import moves

Phase = enums.MigrationPhase
Isolation = enums.Isolation

TERMINAL = frozenset({Phase.COMPLETED, Phase.FAILED})
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


def supported(
    source: Isolation, target: Isolation, source_server: str = "", target_server: str = ""
) -> bool:
    """Whether a live migration can move a tenant's data from `source` on `source_server` to
    `target` on `target_server` (the move matrix of `moves`)."""
    if source is target:
        return source in moves.SAME_KIND and bool(target_server) and source_server != target_server
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
    source_server: str = ""  # the pool shard or silo server it moves from
    target_server: str = ""  # ... and to ("": the provisioner's choice, known once provisioned)
    finished: dt.datetime | None = None
    duration_ms: int | None = None
    switch_attempts: int = 0  # fenced switches that gave way to the tenant's writes
    backup: str = ""  # a live restore: the backup it loads (the source is that, not a copy)
    requested: str = ""  # ... and the spec.restore.requested it carries out

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
            started=_parse(block["started"]) or dt.datetime.now(dt.UTC),
            generation=int(block["generation"]),
            rows_copied=int(block.get("rowsCopied") or 0),
            replication_lag_bytes=None if lag is None else int(lag),
            write_block_ms=None if blocked is None else int(blocked),
            message=str(block.get("message") or ""),
            reason=str(block.get("reason") or ""),
            source_server=str(block.get("sourceServer") or ""),
            target_server=str(block.get("targetServer") or ""),
            finished=_parse(block.get("finished")),
            duration_ms=None if block.get("durationMs") is None else int(block["durationMs"]),
            switch_attempts=int(block.get("switchAttempts") or 0),
            backup=str(block.get("backup") or ""),
            requested=str(block.get("restoreRequested") or ""),
        )

    def to_status(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "source": self.source.value,
            "target": self.target.value,
            "sourceServer": self.source_server,
            "targetServer": self.target_server,
            "started": _stamp(self.started),
            "finished": None if self.finished is None else _stamp(self.finished),
            "durationMs": self.duration_ms,
            "generation": self.generation,
            "rowsCopied": self.rows_copied,
            "replicationLagBytes": self.replication_lag_bytes,
            "writeBlockMs": self.write_block_ms,
            "switchAttempts": self.switch_attempts,
            "message": self.message,
            "reason": self.reason,
            **({"backup": self.backup, "restoreRequested": self.requested} if self.backup else {}),
        }

    def ended(self, now: dt.datetime) -> MigrationState:
        """The state stamped with when it finished (once: a repeat keeps the first stamp)."""
        if self.running or self.finished is not None:
            return self
        now = now.replace(microsecond=0)
        elapsed = int((now - self.started).total_seconds() * 1000)
        return dataclasses.replace(self, finished=now, duration_ms=max(elapsed, 0))

    def history_entry(self) -> dict[str, Any]:
        """Its line in `status.moves` (a finished move)."""
        return {
            "source": self.source.value,
            "sourceServer": self.source_server,
            "target": self.target.value,
            "targetServer": self.target_server,
            "started": _stamp(self.started),
            "finished": _stamp(self.finished or self.started),
            "result": "Completed" if self.phase is Phase.COMPLETED else "Failed",
            "rowsCopied": self.rows_copied,
            "writeBlockMs": self.write_block_ms,
            "durationMs": self.duration_ms or 0,
            "switchAttempts": self.switch_attempts,
            "reason": self.reason,
            **({"backup": self.backup, "restoreRequested": self.requested} if self.backup else {}),
        }


HISTORY = 10  # moves kept in status.moves


def with_history(moves_so_far: Sequence[Mapping[str, Any]], ended: MigrationState) -> list[Any]:
    """`status.moves` once `ended` finished: newest last, at most HISTORY, each move once."""
    entry = ended.history_entry()
    kept = [m for m in moves_so_far if m.get("started") != entry["started"]]
    return [*kept, entry][-HISTORY:]


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(_STAMP)


def _parse(text: object) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.strptime(str(text), _STAMP).replace(tzinfo=dt.UTC)


def stored(status: Mapping[str, Any]) -> MigrationState | None:
    """The migration recorded in a Tenant's status, if any."""
    block = status.get("migration")
    return MigrationState.from_status(block) if block else None


def begin(
    source: Isolation,
    target: Isolation,
    *,
    generation: int,
    now: dt.datetime,
    source_server: str = "",
    target_server: str = "",
) -> MigrationState:
    """A new migration, at its first phase."""
    return MigrationState(
        phase=Phase.PROVISIONING,
        source=source,
        target=target,
        started=now.replace(microsecond=0),
        generation=generation,
        source_server=source_server,
        target_server=target_server,
    )


def begin_restore(
    placement: Isolation,
    server: str,
    *,
    backup: str,
    requested: str,
    generation: int,
    now: dt.datetime,
) -> MigrationState:
    """A new live restore of `backup` into a new copy of the tenant's current placement (on its
    server): a move whose source is the backup."""
    return dataclasses.replace(
        begin(
            placement,
            placement,
            generation=generation,
            now=now,
            source_server=server,
            target_server=server,
        ),
        backup=backup,
        requested=requested,
    )


def restore_wanted(
    backup: str, requested: str, stored: MigrationState | None, done: str = ""
) -> bool:
    """Whether spec.restore asks for a restore not carried out (nor tried) yet: neither the
    migration recorded nor the last restore that ended (`done`: status.restoreRequested) is
    this request."""
    if not backup or requested == done:
        return False
    return stored is None or (stored.backup, stored.requested) != (backup, requested)
