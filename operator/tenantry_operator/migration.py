"""Live migration of a tenant between the pool and a silo, as resumable, idempotent steps.

Phases, in order: Provisioning (the target database and role; routing untouched) → Copying
(logical replication of the tenant's rows: initial copy, then streaming) → CatchingUp (until the
replication lag is small) → Switching (fence the tenant's writes, let the target catch up,
verify row counts and checksums, point the routing row at the target, release) → CleaningUp
(drop the replication objects, purge the source unless deletionPolicy is Retain) → Completed.
A verification failure goes to RollingBack (routing stays on the source, the target is
discarded) → Failed. Progress lives in `status.migration` (a `migration_state.MigrationState`),
so an operator killed at any step continues from where it was. Driven by the reconcile steps;
each phase runs in a span of its own (`traces.phase`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from tenantry_operator import (
    databases,
    grants,
    migration_state,
    model,
    planning,
    provisioner,
    replication,
    routes,
    settings,
    traces,
)

LAG_SMALL_ENOUGH = 256 * 1024  # bytes of WAL the target may be behind before the fence
VERIFICATION_FAILED = "VerificationFailed"  # status.migration.reason of a rolled-back switch

Phase = migration_state.Phase
State = migration_state.MigrationState


@dataclass
class Context:
    cfg: settings.OperatorSettings
    dbs: provisioner.DatabaseProvisioner
    tenant: model.Tenant
    password: str
    pause: float = 0.0  # seconds between steps (demos and kill-at-each-step tests)

    def plan(self, placement: model.Isolation) -> planning.DatabasePlan:
        return planning.plan_database(self.tenant, placement)

    def side(self, placement: model.Isolation) -> replication.Side | None:
        """Where a placement's data is, or None if its database is gone. Only Provisioning
        creates databases: a resumed clean-up must not bring back a silo it already dropped."""
        plan = self.plan(placement)
        if placement is model.Isolation.SILO:
            assert plan.database is not None
            database = self.dbs.locate(plan.database)
            return replication.Side(database.admin_url, plan.schema) if database else None
        return replication.Side(self.pool_url, plan.schema)

    def need(self, placement: model.Isolation) -> replication.Side:
        found = self.side(placement)
        if found is None:
            raise provisioner.ProvisionerUnavailable(
                f"the {placement} database of the migration is missing"
            )
        return found

    @property
    def pool_url(self) -> str:
        return self.cfg.admin_url(self.cfg.pool_database)


def _provision(state: State, ctx: Context) -> State:
    target = ctx.plan(state.target)
    endpoint = databases.ensure_tenant(ctx.cfg, ctx.dbs, target, ctx.password)
    return dataclasses.replace(
        state,
        phase=Phase.COPYING,
        message=f"the {state.target} target is ready",
        detail=f"target at {endpoint.host}:{endpoint.port}/{endpoint.database}",
    )


def _copy(state: State, ctx: Context) -> State:
    key = ctx.tenant.tenant_key
    replication.start(ctx.need(state.source), ctx.need(state.target), key)
    done, rows = replication.copied(ctx.need(state.target), key)
    return dataclasses.replace(
        state,
        phase=Phase.CATCHING_UP if done else state.phase,
        rows_copied=rows,
        message=f"{rows} rows copied",
    )


def _catch_up(state: State, ctx: Context) -> State:
    key = ctx.tenant.tenant_key
    lag = replication.lag_bytes(ctx.need(state.source), key)
    _, rows = replication.copied(ctx.need(state.target), key)
    small = lag is not None and lag <= LAG_SMALL_ENOUGH
    return dataclasses.replace(
        state,
        phase=Phase.SWITCHING if small else state.phase,
        replication_lag_bytes=lag,
        rows_copied=rows,
        message=f"replication lag {lag} bytes",
    )


def _switch(state: State, ctx: Context) -> State:
    source, target = state.source, state.target
    if routes.routed_to(ctx.pool_url, ctx.tenant.tenant_key, target):
        return dataclasses.replace(state, phase=Phase.CLEANING_UP)  # switched before a crash
    target_plan = ctx.plan(target)
    endpoint = databases.ensure_tenant(ctx.cfg, ctx.dbs, target_plan, ctx.password)
    source_side = ctx.need(source)
    fences = [source_side.url] if source is model.Isolation.SILO else []
    try:
        switched = replication.fenced_switch(
            ctx.pool_url,
            fences,
            source_side,
            ctx.need(target),
            ctx.tenant.tenant_key,
            routes.switch(target_plan, endpoint),
        )
    except replication.VerificationFailed as exc:
        return dataclasses.replace(
            state,
            phase=Phase.ROLLING_BACK,
            reason=VERIFICATION_FAILED,
            message=f"tables {', '.join(exc.tables)} differ after the final catch-up",
            detail=str(exc),
        )
    if source is model.Isolation.SILO:
        grants.freeze(source_side.url, ctx.plan(source).schema, ctx.plan(source).role)
    return dataclasses.replace(
        state,
        phase=Phase.CLEANING_UP,
        write_block_ms=switched.write_block_ms,
        rows_copied=switched.rows,
        replication_lag_bytes=0,
        message=f"switched to {target}; writes waited {switched.write_block_ms} ms",
    )


def _clean_up(state: State, ctx: Context) -> State:
    replication.stop(ctx.side(state.source), ctx.side(state.target), ctx.tenant.tenant_key)
    kept = ctx.tenant.deletion_policy is model.DeletionPolicy.RETAIN
    if not kept:
        databases.discard(ctx.cfg, ctx.dbs, ctx.plan(state.source))
    return dataclasses.replace(
        state,
        phase=Phase.COMPLETED,
        message=f"on {state.target}; source copy "
        + ("kept (deletionPolicy Retain)" if kept else "purged"),
    )


def _roll_back(state: State, ctx: Context) -> State:
    replication.stop(ctx.side(state.source), ctx.side(state.target), ctx.tenant.tenant_key)
    databases.discard(ctx.cfg, ctx.dbs, ctx.plan(state.target))
    return dataclasses.replace(state, phase=Phase.FAILED)


_STEPS: dict[Phase, Callable[[State, Context], State]] = {
    Phase.PROVISIONING: _provision,
    Phase.COPYING: _copy,
    Phase.CATCHING_UP: _catch_up,
    Phase.SWITCHING: _switch,
    Phase.CLEANING_UP: _clean_up,
    Phase.ROLLING_BACK: _roll_back,
}


def step(state: State, ctx: Context) -> State:
    """Carry out the current phase once; returns the state to persist (maybe the same phase),
    with the raw detail of this step alone."""
    if not state.running:
        return state
    return _STEPS[state.phase](dataclasses.replace(state, detail=""), ctx)


def _phase(state: State, ctx: Context, poll: float) -> State:
    """Carry out the current phase until it ends: the state it returns names the next."""
    with traces.phase(ctx.tenant, state) as span:
        ran = state.phase
        while (new := step(state, ctx)).phase is ran:
            time.sleep(poll)
            state = new
        span.set_attributes(traces.phase_attributes(ctx.tenant, ran, new))
        return new


def run(
    state: State,
    ctx: Context,
    persist: Callable[[State], None],
    *,
    poll: float = 0.05,
) -> State:
    """Advance until Completed or Failed, persisting after every change of phase."""
    while state.running:
        state = _phase(state, ctx, poll)
        persist(state)
        if ctx.pause:
            time.sleep(ctx.pause)
    return state
