"""The placement decision of one reconcile: where the tenant's data is served from, and whether
a live migration starts, resumes or waits.

Pure: `reconcile` calls `decide` with the Tenant, its Tier and the migration its status
records, carries out the decision, and hands the settled decision to `status`, which turns it
into the MigrationRequired, Migrating and MigrationFailed conditions. Unit tests feed it
literal specs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from tenantry_operator import migration_state, model

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
    wanted: model.Isolation  # the Tier's isolation model
    action: Action = Action.NONE
    migration: migration_state.MigrationState | None = None  # to run (START, RESUME) or last
    failed: bool = False  # a migration failed here; it is not retried until the Tenant changes

    @property
    def to_run(self) -> migration_state.MigrationState | None:
        """The migration to start or resume now, if any."""
        return self.migration if self.action is not Action.NONE else None

    @property
    def supported(self) -> bool:
        """Whether a live migration can move the data where the Tier wants it."""
        return migration_state.supported(self.placement, self.wanted)


def decide(
    tenant: model.Tenant,
    tier: model.Tier,
    stored: migration_state.MigrationState | None,
    now: dt.datetime,
) -> Decision:
    """Start a migration when the Tier wants another supported placement, resume one that is
    running, and leave one that failed for this generation of the Tenant and this target."""
    placement = tenant.placement or tier.isolation
    decision = Decision(tier.name, placement, tier.isolation, migration=stored)
    if stored is not None and stored.running:
        return dataclasses.replace(decision, action=Action.RESUME)
    failed = (
        stored is not None
        and stored.phase is Phase.FAILED
        and stored.generation == tenant.generation
        and stored.target is tier.isolation
    )
    if failed:
        return dataclasses.replace(decision, failed=True)
    if placement is not tier.isolation and decision.supported:
        begun = migration_state.begin(
            placement, tier.isolation, generation=tenant.generation, now=now
        )
        return dataclasses.replace(decision, action=Action.START, migration=begun)
    return decision


def settle(decision: Decision, ran: migration_state.MigrationState) -> Decision:
    """The decision once its migration ran to `ran`: a completed one moved the data, a failed
    one leaves it where it was."""
    placement = ran.target if ran.phase is Phase.COMPLETED else decision.placement
    return dataclasses.replace(
        decision, placement=placement, migration=ran, failed=ran.phase is Phase.FAILED
    )
