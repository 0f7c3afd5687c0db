"""A live restore of a tenant to one of its backups: a move whose source is the backup, through
the phases and state of a live migration (`migration` hands a state with `backup` set here).

Provisioning (the backup must be the tenant's own, by the manifest's uid, and match its
checksum; else Failed: RestoreRefused, BackupMissing, BackupCorrupt) → Copying (the backup's
tables are brought back as a new copy, the schema `tenantry_restore_<key>` in the database of
the tenant's current placement, while the app keeps serving the old one) → Switching (under the
tenant's fence, in one transaction, the old copy's rows are replaced by the new copy's: the app
sees the old data or the restored data, never a mix; a fence that cannot be taken in time gives
way and is tried again) → CleaningUp (the new copy's schema is dropped) → Completed. A new copy
of the same placement on the same server has no name of its own (the bridge schema, the silo
database and the pool rows are named after the tenant), which is why the switch swaps the rows
under the fence rather than the routing row. Every phase is idempotent: a restore resumed after
a crash stages again or swaps again from the staged copy.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from tenantry_operator import (
    databases,
    fencing,
    migration_state,
    model,
    planning,
    postgres,
    provisioner,
    settings,
    snapshots,
    stores,
)

Phase = migration_state.Phase
State = migration_state.MigrationState
DEADLINE = 5.0  # seconds the switch may wait for the tenant's fence before it gives way
REFUSED, MISSING, CORRUPT = "RestoreRefused", "BackupMissing", "BackupCorrupt"


@dataclasses.dataclass(frozen=True)
class Where:
    """The tenant whose data is restored, and where its data is."""

    cfg: settings.OperatorSettings
    dbs: provisioner.DatabaseProvisioner
    tenant: model.Tenant

    def plan(self, state: State) -> planning.DatabasePlan:
        return planning.plan_database(self.tenant, state.target, server=state.target_server)

    def url(self, state: State) -> str:
        found = databases.data_url(self.cfg, self.dbs, self.plan(state))
        if found is None:
            raise provisioner.ProvisionerUnavailable("the tenant's database is missing")
        return found


def staging_schema(tenant: model.Tenant) -> str:
    """The schema the backup's copy is staged in, beside the tenant's tables."""
    return f"tenantry_restore_{tenant.tenant_key.replace('-', '_')}"


def _failed(state: State, reason: str, message: str) -> State:
    return dataclasses.replace(state, phase=Phase.ROLLING_BACK, reason=reason, message=message)


def _check(state: State, where: Where) -> State:
    try:
        manifest = snapshots.verified(stores.of(where.cfg), state.backup)
    except snapshots.SnapshotMissing:
        return _failed(state, MISSING, f"no backup {state.backup} in the snapshot store")
    except snapshots.SnapshotCorrupt:
        return _failed(state, CORRUPT, f"backup {state.backup} does not match its checksum")
    if manifest.get("uid") != where.tenant.uid:
        return _failed(state, REFUSED, f"backup {state.backup} is not of this tenant")
    return dataclasses.replace(state, phase=Phase.COPYING, message=f"backup {state.backup} checked")


def _load(state: State, where: Where) -> State:
    rows = snapshots.stage(
        where.url(state),
        where.plan(state),
        stores.of(where.cfg),
        state.backup,
        staging_schema(where.tenant),
    )
    return dataclasses.replace(
        state,
        phase=Phase.SWITCHING,
        rows_copied=rows,
        message=f"{rows} rows of backup {state.backup} loaded beside the tenant's data",
    )


def _switch(state: State, where: Where) -> State:
    url, plan = where.url(state), where.plan(state)
    fences = [where.cfg.admin_url(where.cfg.pool_database)]
    if plan.placement is model.Isolation.SILO:
        fences.append(url)  # a silo's own app takes the fence in its database
    try:
        with (
            fencing.fenced(fences, where.tenant.tenant_key, DEADLINE) as started,
            postgres.connect(url) as conn,
            conn.transaction(),
        ):
            rows = snapshots.replace(conn, plan, staging_schema(where.tenant))
    except fencing.FenceTimedOut as exc:
        return dataclasses.replace(
            state,
            message="the switch gave way to the tenant's writes; trying again",
            detail=str(exc),
        )
    blocked = max(0, int(time.monotonic() * 1000) - started)
    return dataclasses.replace(
        state,
        phase=Phase.CLEANING_UP,
        rows_copied=rows,
        write_block_ms=blocked,
        message=f"switched to backup {state.backup}; writes waited {blocked} ms",
    )


def stop(state: State, where: Where) -> None:
    """Drop the staged copy, wherever the tenant's database still is. Idempotent; also used
    when a restoring Tenant is deleted."""
    url = databases.data_url(where.cfg, where.dbs, where.plan(state))
    if url is not None:
        databases.drop_schema(url, staging_schema(where.tenant))


def _clean_up(state: State, where: Where) -> State:
    stop(state, where)
    return dataclasses.replace(
        state,
        phase=Phase.COMPLETED,
        message=f"restored to backup {state.backup} ({state.rows_copied} rows)",
    )


def _roll_back(state: State, where: Where) -> State:
    stop(state, where)
    return dataclasses.replace(state, phase=Phase.FAILED)


STEPS: dict[Phase, Callable[[State, Where], State]] = {
    Phase.PROVISIONING: _check,
    Phase.COPYING: _load,
    Phase.SWITCHING: _switch,
    Phase.CLEANING_UP: _clean_up,
    Phase.ROLLING_BACK: _roll_back,
}
