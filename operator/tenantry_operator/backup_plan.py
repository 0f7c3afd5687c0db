"""Scheduled backups, the arithmetic: a Tier's `spec.backup` (an interval such as `6h` or
`1h30m`, and how many backups to keep), the slot a moment falls in, the name of the backup of
a slot, whether one is due, and which backups pruning removes.

Pure: `backups` (the operator's backup timer) asks it what to do, unit tests call it with
literal values. A backup's name is derived from its Tenant and its slot, so a backup already
written for a slot (before a crash) is found and never taken again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

INTERVAL = re.compile(r"^(?:[1-9][0-9]*[smhd])+$")  # the Tier CRD's pattern, too
_PART = re.compile(r"([0-9]+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SLOT_STAMP = "%Y%m%d%H%M%S"
MARK = "backup"  # the word between a backup's tenant and its slot: `<key>-<uid8>-backup-<slot>`


class InvalidSchedule(ValueError):
    """A Tier's backup schedule that is no interval; the message says what is expected."""


def interval_seconds(schedule: str) -> int:
    """The seconds of an interval such as `30s`, `6h` or `1d12h` (units s, m, h, d)."""
    if not INTERVAL.match(schedule):
        raise InvalidSchedule(
            f"backup schedule {schedule!r} is not an interval such as 30s, 15m, 6h or 1d12h"
        )
    return sum(int(n) * _UNIT[unit] for n, unit in _PART.findall(schedule))


@dataclass(frozen=True)
class Schedule:
    """A Tier's `spec.backup`: every `every` seconds, keeping the newest `retain`."""

    every: int
    retain: int

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Schedule | None:
        """The Tier spec's backup schedule (None: the Tier takes no backups); InvalidSchedule
        for a schedule that is no interval or a retain below 1."""
        backup = spec.get("backup")
        if not backup:
            return None
        retain = int(backup.get("retain", 7))
        if retain < 1:
            raise InvalidSchedule(f"backup retain must be at least 1, not {retain}")
        return cls(every=interval_seconds(str(backup.get("schedule", ""))), retain=retain)


def slot_start(every: int, now: dt.datetime) -> dt.datetime:
    """The start of the slot `now` falls in: slots are `every` seconds long, counted from the
    Unix epoch (so every operator agrees on them)."""
    stamp = int(now.timestamp())
    return dt.datetime.fromtimestamp(stamp - stamp % every, dt.UTC)


def prefix(tenant_key: str, uid: str) -> str:
    """What every backup name of one Tenant (this uid: not a same-named earlier one) starts with."""
    return f"{tenant_key}-{uid[:8]}-{MARK}-"


def name(tenant_key: str, uid: str, slot: dt.datetime) -> str:
    """The backup of the slot starting at `slot` (without the `.dump` of its archive)."""
    return prefix(tenant_key, uid) + slot.astimezone(dt.UTC).strftime(_SLOT_STAMP)


def due(every: int, taken: Collection[str], tenant_key: str, uid: str, now: dt.datetime) -> str:
    """The backup to take now, or "" when the current slot's is among `taken`."""
    wanted = name(tenant_key, uid, slot_start(every, now))
    return "" if wanted in taken else wanted


def to_prune(taken: Sequence[str], retain: int, in_use: Collection[str] = ()) -> list[str]:
    """The backups pruning removes: all but the newest `retain` (names sort by slot), oldest
    first, never one in use (a restore loads it)."""
    newest_first = sorted(taken, reverse=True)
    return sorted(n for n in newest_first[retain:] if n not in in_use)
