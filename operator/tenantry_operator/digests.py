"""Per-table digests of a tenant's rows, and the arithmetic of a move's verification.

Pure: `fencing` computes the digests in Postgres and decides with these functions; unit tests
check them with literal digests. A digest is (rows, sum of 64-bit hashes of the rows): it does
not depend on the rows' order, and the digest of a set of rows minus the digest of a subset is
the digest of the rest. That is what lets a move verify its bulk before the fence: both sides
are digested at a common point, and the rows whose keys changed since are taken out of both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Digest:
    """The digest of some rows of one table: how many, and the sum of their hashes."""

    rows: int = 0
    total: int = 0

    def __sub__(self, other: Digest) -> Digest:
        return Digest(self.rows - other.rows, self.total - other.total)


Digests = Mapping[str, Digest]  # per table
EMPTY = Digest()


def minus(whole: Digests, part: Digests) -> dict[str, Digest]:
    """Per table, the digest of the rows of `whole` that are not in `part` (a subset)."""
    return {table: whole.get(table, EMPTY) - part.get(table, EMPTY) for table in {*whole, *part}}


def differing(source: Digests, target: Digests) -> list[str]:
    """The tables whose digests differ (a table one side lacks counts as empty), sorted."""
    return sorted(t for t in {*source, *target} if source.get(t, EMPTY) != target.get(t, EMPTY))


def describe(tables: list[str], source: Digests, target: Digests) -> str:
    """For admins: how the digests of `tables` differ."""
    return "; ".join(
        f"{t}: source {source.get(t, EMPTY).rows} rows, target {target.get(t, EMPTY).rows} rows"
        + ("" if source.get(t, EMPTY).rows != target.get(t, EMPTY).rows else ", other contents")
        for t in tables
    )


def changed_keys(log: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The change log's (table, primary key) entries as each table's distinct keys, in the
    order first seen."""
    keys: dict[str, dict[str, dict[str, Any]]] = {}
    for table, key in log:
        keys.setdefault(table, {}).setdefault(repr(sorted(key.items())), dict(key))
    return {table: list(found.values()) for table, found in keys.items()}


def batches(keys: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """`keys` in batches of at most `size`, so that the fenced check looks at the clock between
    two of them."""
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def add(digests: Iterable[Digest]) -> Digest:
    rows = total = 0
    for digest in digests:
        rows, total = rows + digest.rows, total + digest.total
    return Digest(rows, total)
