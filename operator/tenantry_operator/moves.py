"""The path of a live move: which copies carry a tenant's tables from its source placement to its
target, and which directions are live at all (the move matrix).

Pure: `migration` resolves each hop's ends to databases and runs it, `migration_state` answers
whether a move is supported, and unit tests check the paths. Two kinds of hop exist:

- REPLICATE: logical replication between two databases. A subscription applies each change to
  the table of the same schema-qualified name, so both ends use the same schema name.
- MIRROR: inside one database, from one schema to another (triggers plus a batched copy,
  `mirror`). Logical replication cannot do this: inside one database a subscription would
  apply to the very table it publishes.

Pool and bridge on one pool shard share its database, so pool ↔ bridge there is one MIRROR hop;
pool ↔ silo, and pool → pool or bridge → bridge on another shard, keep the schema name on both
ends, so one REPLICATE hop. A move that changes both the database and the schema (bridge ↔
silo, pool ↔ bridge across shards) passes the rows through a staging schema named like the
bridge schema, in the database whose end is `public` (never `public` itself, which in a pool
shard holds every pooled tenant), replicated on one side of it and mirrored on the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tenantry_core import enums

Isolation = enums.Isolation


class Kind(enum.StrEnum):
    REPLICATE = "replicate"  # logical replication, another database, the same schema name
    MIRROR = "mirror"  # triggers and a batched copy, the same database, another schema


class Db(enum.StrEnum):
    """Whose database an end is in: the move's source placement's, or its target's."""

    SOURCE = "source"
    TARGET = "target"


@dataclass(frozen=True)
class End:
    db: Db
    schema: str


@dataclass(frozen=True)
class Hop:
    kind: Kind
    source: End
    target: End


def in_pool_database(isolation: Isolation) -> bool:
    """Whether a placement's tables are in the shared pool database (pool rows, bridge schema)."""
    return isolation is not Isolation.SILO


def path(
    source: Isolation,
    source_schema: str,
    target: Isolation,
    target_schema: str,
    *,
    same_database: bool | None = None,
) -> tuple[Hop, ...]:
    """The hops, in the order the rows flow, that take a tenant's tables from `source_schema`
    of its source placement's database to `target_schema` of its target's. `same_database`:
    whether both ends are in one database (default: both pooled, on one pool shard)."""
    if same_database is None:
        same_database = in_pool_database(source) and in_pool_database(target)
    start, end = End(Db.SOURCE, source_schema), End(Db.TARGET, target_schema)
    if same_database:
        if source_schema == target_schema:
            raise ValueError(f"{source} and {target} are the same tables: nothing to move")
        return (Hop(Kind.MIRROR, start, end),)
    if source_schema == target_schema:
        return (Hop(Kind.REPLICATE, start, end),)
    if source_schema != "public":  # stage in the target's database, under the source's name
        staged = End(Db.TARGET, source_schema)
        return (Hop(Kind.REPLICATE, start, staged), Hop(Kind.MIRROR, staged, end))
    staged = End(Db.SOURCE, target_schema)  # the source's tables are `public`: stage there
    return (Hop(Kind.MIRROR, start, staged), Hop(Kind.REPLICATE, staged, end))


def staging(hops: tuple[Hop, ...]) -> End | None:
    """The schema the rows pass through between two hops, if any: created for the move and
    dropped at its end."""
    return hops[0].target if len(hops) > 1 else None


# The move matrix: every direction between two different placements is live, and so is a move
# between two servers of the same placement (pool shards, or silo servers: a REPLICATE hop,
# one schema name, two databases).
LIVE = frozenset((s, t) for s in Isolation for t in Isolation if s is not t)
SAME_KIND = frozenset(Isolation)
