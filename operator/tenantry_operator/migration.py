"""Live migration of a tenant between any two placements (pool, bridge, silo), as resumable,
idempotent steps.

Phases, in order: Provisioning (the target, and a staging schema if the move's path has one;
routing untouched) → Copying (every hop of the path of `moves`: logical replication between
databases, `mirror` triggers and a batched copy inside one; each hop is started downstream
first, so nothing flows into a hop before it is ready) → CatchingUp (until the replication lag
is small; a move by mirror alone never lags) → Switching (`fencing`: verify the bulk of the
final target against the source while the tenant writes, then fence its writes, let the target
catch up, check the rows changed since, point the routing row at the target, release; a fence
that takes too long gives way and is tried again; the old copy of a bridge or silo is frozen) →
CleaningUp (stop every hop, drop the staging schema, purge the source unless deletionPolicy is
Retain) → Completed. A verification failure goes to RollingBack (routing stays on the source,
the target is discarded) → Failed. Progress lives in `status.migration` (a
`migration_state.MigrationState`), so an operator killed at any step continues from where it
was. Run by a mover thread of its own (`movers`), which the reconcile steps start and observe;
each phase runs in a span of its own (`traces.phase`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from tenantry_operator import (
    changelog,
    databases,
    fencing,
    grants,
    migration_state,
    mirror,
    model,
    moves,
    planning,
    provisioner,
    replication,
    routes,
    settings,
    traces,
)

LAG_SMALL_ENOUGH = 256 * 1024  # bytes of WAL the target may be behind before the fence
POLL_MAX = 0.5  # seconds between two looks at a phase that goes on
VERIFICATION_FAILED = "VerificationFailed"  # status.migration.reason of a rolled-back switch
log = logging.getLogger(__name__)

Phase = migration_state.Phase
State = migration_state.MigrationState


@dataclass
class Context:
    cfg: settings.OperatorSettings
    dbs: provisioner.DatabaseProvisioner
    tenant: model.Tenant
    password: str
    pause: float = 0.0  # seconds between steps (demos and kill-at-each-step tests)
    filled: set[moves.Hop] = field(default_factory=set)  # mirror hops copied by this process
    stopping: threading.Event = field(default_factory=threading.Event)  # stop after this step

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

    def hops(self, state: State) -> tuple[moves.Hop, ...]:
        return moves.path(
            state.source,
            self.plan(state.source).schema,
            state.target,
            self.plan(state.target).schema,
        )

    def end(self, state: State, end: moves.End) -> replication.Side | None:
        """Where one end of a hop is, or None if its database is gone."""
        found = self.side(state.source if end.db is moves.Db.SOURCE else state.target)
        return None if found is None else replication.Side(found.url, end.schema)

    def need_end(self, state: State, end: moves.End) -> replication.Side:
        found = self.need(state.source if end.db is moves.Db.SOURCE else state.target)
        return replication.Side(found.url, end.schema)


def _provision(state: State, ctx: Context) -> State:
    target = ctx.plan(state.target)
    endpoint = databases.ensure_tenant(ctx.cfg, ctx.dbs, target, ctx.password, serving=False)
    staged = moves.staging(ctx.hops(state))
    if staged is not None:
        databases.ensure_staging(ctx.cfg, ctx.need_end(state, staged).url, staged.schema)
    return dataclasses.replace(
        state,
        phase=Phase.COPYING,
        message=f"the {state.target} target is ready",
        detail=f"target at {endpoint.host}:{endpoint.port}/{endpoint.database}",
    )


def _start(state: State, ctx: Context, hop: moves.Hop) -> None:
    key = ctx.tenant.tenant_key
    source, target = ctx.need_end(state, hop.source), ctx.need_end(state, hop.target)
    if hop.kind is moves.Kind.REPLICATE:
        replication.start(source, target, key)
        return
    mirror.start(source.url, source.schema, target.schema, key)
    if hop not in ctx.filled:  # once per process: a resumed move copies again, harmlessly
        mirror.fill(source.url, source.schema, target.schema, key)
        ctx.filled.add(hop)


def _copy(state: State, ctx: Context) -> State:
    hops = ctx.hops(state)
    for hop in reversed(hops):  # downstream first: nothing flows into a hop not yet ready
        _start(state, ctx, hop)
    done = all(
        replication.copied(ctx.need_end(state, hop.target), ctx.tenant.tenant_key)
        for hop in hops
        if hop.kind is moves.Kind.REPLICATE
    )
    rows = replication.rows(ctx.need(state.target), ctx.tenant.tenant_key)
    return dataclasses.replace(
        state,
        phase=Phase.CATCHING_UP if done else state.phase,
        rows_copied=rows,
        message=f"{rows} rows copied",
    )


def _catch_up(state: State, ctx: Context) -> State:
    key = ctx.tenant.tenant_key
    lag: int | None = 0  # a mirror never lags: each writer changes the target itself
    for hop in ctx.hops(state):
        if hop.kind is moves.Kind.REPLICATE:
            lag = replication.lag_bytes(ctx.need_end(state, hop.source), key)
    rows = replication.rows(ctx.need(state.target), key)
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
    endpoint = databases.ensure_tenant(
        ctx.cfg, ctx.dbs, target_plan, ctx.password, serving=False
    )
    source_side = ctx.need(source)
    fences = [source_side.url] if source is model.Isolation.SILO else []
    hops = ctx.hops(state)
    try:
        switched = fencing.switch(
            pool_url=ctx.pool_url,
            fence_urls=fences,
            source=source_side,
            target=ctx.need(target),
            senders=[
                ctx.need_end(state, hop.source).url
                for hop in hops
                if hop.kind is moves.Kind.REPLICATE
            ],
            tenant_key=ctx.tenant.tenant_key,
            switch_sql=routes.switch(target_plan, endpoint),
        )
    except fencing.FenceTimedOut as exc:  # routing unchanged: try again
        log.info("tenant %s: the switch gave way: %s", ctx.tenant.tenant_key, exc)
        return dataclasses.replace(
            state, message="the switch gave way to the tenant's writes; trying again",
            detail=str(exc),
        )
    except fencing.VerificationFailed as exc:
        return dataclasses.replace(
            state,
            phase=Phase.ROLLING_BACK,
            reason=VERIFICATION_FAILED,
            message=f"tables {', '.join(exc.tables)} differ after the final catch-up",
            detail=str(exc),
        )
    _freeze(source_side, ctx.plan(source))
    databases.serve(ctx.cfg, target_plan)  # (after a crash here: the next data step does it)
    return dataclasses.replace(
        state,
        phase=Phase.CLEANING_UP,
        write_block_ms=switched.write_block_ms,
        rows_copied=replication.rows(ctx.need(target), ctx.tenant.tenant_key),
        replication_lag_bytes=0,
        message=f"switched to {target}; writes waited {switched.write_block_ms} ms",
    )


def _freeze(side: replication.Side | None, plan: planning.DatabasePlan) -> None:
    """The tenant's role may no longer change the old copy of a bridge schema or a silo (pooled
    rows need nothing: row-level security serves them only while routed to the pool)."""
    if side is not None and plan.placement is not model.Isolation.POOL:
        grants.freeze(side.url, plan.schema, plan.role)


def stop_copies(state: State, ctx: Context) -> None:
    """Stop every hop of the move and drop its staging schema, wherever the databases are
    still there. Idempotent; also used when a moving Tenant is deleted."""
    key = ctx.tenant.tenant_key
    hops = ctx.hops(state)
    origin = ctx.side(state.source)
    if origin is not None:
        changelog.stop(origin.url, key)
    for hop in hops:
        source, target = ctx.end(state, hop.source), ctx.end(state, hop.target)
        if hop.kind is moves.Kind.REPLICATE:
            replication.stop(source, target, key)
        elif source is not None:
            mirror.stop(source.url, source.schema, hop.target.schema, key)
    staged = moves.staging(hops)
    where = ctx.end(state, staged) if staged is not None else None
    if where is not None:
        databases.drop_schema(where.url, where.schema)


def _clean_up(state: State, ctx: Context) -> State:
    stop_copies(state, ctx)
    kept = ctx.tenant.deletion_policy is model.DeletionPolicy.RETAIN
    if kept:  # again: an operator killed right after the switch did not freeze it
        _freeze(ctx.side(state.source), ctx.plan(state.source))
    else:
        databases.discard(ctx.cfg, ctx.dbs, ctx.plan(state.source))
    return dataclasses.replace(
        state,
        phase=Phase.COMPLETED,
        message=f"on {state.target}; source copy "
        + ("kept (deletionPolicy Retain)" if kept else "purged"),
    )


def _roll_back(state: State, ctx: Context) -> State:
    stop_copies(state, ctx)
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
        ran, wait = state.phase, poll
        while (new := step(state, ctx)).phase is ran and not ctx.stopping.is_set():
            # Each look counts the tenant's rows: a long phase is looked at less often.
            ctx.stopping.wait(wait)
            wait, state = min(wait * 2, POLL_MAX), new
        span.set_attributes(traces.phase_attributes(ctx.tenant, ran, new))
        return new


def run(
    state: State,
    ctx: Context,
    persist: Callable[[State], None],
    *,
    poll: float = 0.05,
) -> State:
    """Advance until Completed or Failed (or until asked to stop), persisting after every change
    of phase."""
    while state.running and not ctx.stopping.is_set():
        state = _phase(state, ctx, poll)
        persist(state)
        if ctx.pause:
            ctx.stopping.wait(ctx.pause)
    return state
