"""The placement decision of one reconcile: where the tenant's data is served from (placement
and server), where spec.placement or the Tier wants it, and whether a live migration starts,
resumes or waits (an undeclared server is refused). A live restore (spec.restore, not carried
out yet) is a migration too, from a backup into the tenant's current placement; it starts
before any move.

Pure: `reconcile` calls `decide` with the Tenant, its Tier and the migration its status
records, carries out the decision, and hands the settled decision to `status`, which turns it
into the MigrationRequired, Migrating and MigrationFailed conditions. Unit tests feed it
literal specs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Sequence

from tenantry_operator import migration_state, model, placement, settings

Phase = migration_state.Phase


class Action(enum.StrEnum):
    NONE = "None"  # no migration runs in this reconcile
    START = "Start"  # a new migration begins
    RESUME = "Resume"  # a migration an earlier reconcile left running goes on


@dataclasses.dataclass(frozen=True)
class Decision:
    """Where the data is and where the Tier wants it; the migration to run, or the last one."""

    tier: str
    placement: model.Isolation  # where the data is served from
    wanted: model.Isolation  # spec.placement.isolation, else the Tier's isolation model
    action: Action = Action.NONE
    migration: migration_state.MigrationState | None = None  # to run (START, RESUME) or last
    failed: bool = False  # a migration failed here; it is not retried until the Tenant changes
    server: str = settings.HOME_SHARD  # the server the data is on ("": a silo not located yet)
    wanted_server: str = ""  # where the data should be ("": where it is, or the provisioner's)
    refused: str = ""  # why spec.placement cannot be followed (an unknown server)

    @property
    def to_run(self) -> migration_state.MigrationState | None:
        """The migration to start or resume now, if any."""
        return self.migration if self.action is not Action.NONE else None

    @property
    def elsewhere(self) -> bool:
        """Whether the data should be on another placement or server than it is."""
        other_server = bool(self.wanted_server) and self.wanted_server != self.server
        return self.placement is not self.wanted or other_server

    @property
    def supported(self) -> bool:
        """Whether a live migration can move the data where it should be."""
        return migration_state.supported(
            self.placement, self.wanted, self.server, self.wanted_server
        )


def _target_server(
    tenant: model.Tenant, placement: model.Isolation, wanted: model.Isolation, server: str
) -> str:
    """The server a move goes to: the one spec.placement names; else the current pool shard
    for a move between pooled placements, the home shard from a silo, and the provisioner's
    choice for a silo ("")."""
    if tenant.wanted_server:
        return tenant.wanted_server
    if wanted is model.Isolation.SILO:
        return server if placement is model.Isolation.SILO else ""
    return server if placement is not model.Isolation.SILO else settings.HOME_SHARD


def _unknown(
    name: str, wanted: model.Isolation, pool_shards: Sequence[str], silo_servers: Sequence[str]
) -> str:
    """Why `name` is no server a `wanted` placement may use; empty when it is one."""
    silo = wanted is model.Isolation.SILO
    declared = silo_servers if silo else pool_shards
    if not name or name in declared:
        return ""
    kind = placement.kind_of(wanted)
    return f"server {name!r} is not a declared {kind} (declared: {', '.join(declared)})"


def decide(
    tenant: model.Tenant,
    tier: model.Tier,
    stored: migration_state.MigrationState | None,
    now: dt.datetime,
    *,
    pool_shards: Sequence[str] = (settings.HOME_SHARD,),
    silo_servers: Sequence[str] = (),
) -> Decision:
    """Start a migration when the Tenant (spec.placement) or its Tier wants another supported
    placement or server, resume one that is running, and leave one that failed for this
    generation of the Tenant and this target. A server that is not declared for the wanted
    placement is refused: nothing moves."""
    wanted = tenant.wanted_isolation or tier.isolation
    placement = tenant.placement or wanted
    pooled = placement is not model.Isolation.SILO
    server = tenant.server or (settings.HOME_SHARD if pooled else "")
    decision = Decision(tier.name, placement, wanted, migration=stored, server=server)
    if stored is not None and stored.running:
        return dataclasses.replace(decision, action=Action.RESUME)
    if tenant.placement is None:  # a new tenant: placed where it should be (`placement`)
        return decision
    if migration_state.restore_wanted(
        tenant.restore_backup, tenant.restore_requested, stored, tenant.restore_done
    ):
        begun = migration_state.begin_restore(
            placement,
            server,
            backup=tenant.restore_backup,
            requested=tenant.restore_requested,
            generation=tenant.generation,
            now=now,
        )
        return dataclasses.replace(decision, action=Action.START, migration=begun)
    refused = _unknown(tenant.wanted_server, wanted, pool_shards, silo_servers)
    if refused:
        return dataclasses.replace(decision, refused=refused)
    target_server = _target_server(tenant, placement, wanted, server)
    moved = target_server if target_server != server else ""
    decision = dataclasses.replace(decision, wanted_server=moved)
    failed = (
        stored is not None
        and stored.phase is Phase.FAILED
        and stored.generation == tenant.generation
        and stored.target is wanted
    )
    if failed:
        return dataclasses.replace(decision, failed=True)
    if decision.elsewhere and decision.supported:
        begun = migration_state.begin(
            placement,
            wanted,
            generation=tenant.generation,
            now=now,
            source_server=server,
            target_server=target_server,
        )
        return dataclasses.replace(decision, action=Action.START, migration=begun)
    return decision


def settle(decision: Decision, ran: migration_state.MigrationState) -> Decision:
    """The decision once its migration ran to `ran`: a completed one moved the data, a failed
    one leaves it where it was."""
    done = ran.phase is Phase.COMPLETED
    return dataclasses.replace(
        decision,
        placement=ran.target if done else decision.placement,
        server=ran.target_server if done else decision.server,
        migration=ran,
        failed=ran.phase is Phase.FAILED,
    )
