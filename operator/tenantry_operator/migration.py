"""Live migration of a tenant between any two placements (pool, bridge, silo), or between two
pool shards of the same pooled placement, as resumable, idempotent steps. `Context` resolves
each end (the source and the target, each a placement on a server) to its database.

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
was. A live restore (`restoring`: a state with a backup as its source) runs through the same
phases, state and runner. Run by a mover thread of its own (`movers`), which the reconcile
steps start and observe; each phase runs in a span of its own (`traces.phase`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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
    restoring,
    routes,
    settings,
    traces,
)

LAG_SMALL_ENOUGH = 256 * 1024  # bytes of WAL the target may be behind before the fence
POLL_MAX = 0.5  # seconds between two looks at a phase that goes on
VERIFICATION_FAILED = "VerificationFailed"  # status.migration.reason of a rolled-back switch
SWITCH_TIMED_OUT = "SwitchTimedOut"  # ... of a move whose switch kept giving way to writes
SWITCH_ATTEMPTS = 10  # fenced switches that may give way before the move rolls back
SWITCH_BACKOFF_MAX = 30.0  # seconds, at most, between two of them
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

    def plan(self, state: State, db: moves.Db) -> planning.DatabasePlan:
        """The move's source or target: its placement on its server (a pool shard's name; a
        silo's server is the provisioner's to find)."""
        source = db is moves.Db.SOURCE
        placement = state.source if source else state.target
        server = state.source_server if source else state.target_server
        return planning.plan_database(self.tenant, placement, server=server or None)

    def side(self, state: State, db: moves.Db) -> replication.Side | None:
        """Where one end's data is, or None if its database is gone. Only Provisioning
        creates databases: a resumed clean-up must not bring back a silo it already dropped."""
        plan = self.plan(state, db)
        if plan.placement is model.Isolation.SILO:
            assert plan.database is not None
            database = self.dbs.locate(plan.database, plan.server)
            return replication.Side(database.admin_url, plan.schema) if database else None
        return replication.Side(self.cfg.shard_url(plan.server), plan.schema)

    def need(self, state: State, db: moves.Db) -> replication.Side:
        found = self.side(state, db)
        if found is None:
            raise provisioner.ProvisionerUnavailable(
                f"the {db} database of the migration is missing"
            )
        return found

    @property
    def pool_url(self) -> str:
        """The home pool database: the routing catalog and the migration fence."""
        return self.cfg.admin_url(self.cfg.pool_database)

    def hops(self, state: State) -> tuple[moves.Hop, ...]:
        source, target = self.plan(state, moves.Db.SOURCE), self.plan(state, moves.Db.TARGET)
        pooled = moves.in_pool_database(state.source) and moves.in_pool_database(state.target)
        return moves.path(
            state.source,
            source.schema,
            state.target,
            target.schema,
            same_database=pooled and source.server == target.server,
        )

    def switched(self, state: State) -> bool:
        """Whether the routing row points at the move's target (placement, and server)."""
        key = self.tenant.tenant_key
        if not routes.routed_to(self.pool_url, key, state.target):
            return False
        return state.source is not state.target or (
            routes.routed_server(self.pool_url, key) == state.target_server
        )

    def end(self, state: State, end: moves.End) -> replication.Side | None:
        """Where one end of a hop is, or None if its database is gone."""
        found = self.side(state, end.db)
        return None if found is None else replication.Side(found.url, end.schema)

    def need_end(self, state: State, end: moves.End) -> replication.Side:
        return replication.Side(self.need(state, end.db).url, end.schema)


SOURCE, TARGET = moves.Db.SOURCE, moves.Db.TARGET


def _provision(state: State, ctx: Context) -> State:
    target = ctx.plan(state, TARGET)
    endpoint = databases.ensure_tenant(ctx.cfg, ctx.dbs, target, ctx.password, serving=False)
    state = dataclasses.replace(state, target_server=endpoint.server)  # a silo's: now known
    routes.guard(ctx.cfg, target, endpoint)  # a pool shard's row-level security, once routed
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
    rows = replication.rows(ctx.need(state, TARGET), ctx.tenant.tenant_key)
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
    rows = replication.rows(ctx.need(state, TARGET), key)
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
    if ctx.switched(state):
        return dataclasses.replace(state, phase=Phase.CLEANING_UP)  # switched before a crash
    target_plan = ctx.plan(state, TARGET)
    endpoint = databases.ensure_tenant(ctx.cfg, ctx.dbs, target_plan, ctx.password, serving=False)
    source_side = ctx.need(state, SOURCE)
    fences = [source_side.url] if source is model.Isolation.SILO else []
    hops = ctx.hops(state)
    try:
        switched = fencing.switch(
            pool_url=ctx.pool_url,
            fence_urls=fences,
            source=source_side,
            target=ctx.need(state, TARGET),
            senders=[
                ctx.need_end(state, hop.source).url
                for hop in hops
                if hop.kind is moves.Kind.REPLICATE
            ],
            tenant_key=ctx.tenant.tenant_key,
            switch_sql=routes.switch(target_plan, endpoint),
        )
    except fencing.FenceTimedOut as exc:  # routing unchanged: try again, later, or give up
        log.info("tenant %s: the switch gave way: %s", ctx.tenant.tenant_key, exc)
        state, delay = gave_way(state, exc)
        ctx.stopping.wait(delay)
        return state
    except fencing.VerificationFailed as exc:
        return dataclasses.replace(
            state,
            phase=Phase.ROLLING_BACK,
            reason=VERIFICATION_FAILED,
            message=f"tables {', '.join(exc.tables)} differ after the final catch-up",
            detail=str(exc),
        )
    _freeze(ctx.cfg, source_side, ctx.plan(state, SOURCE))
    databases.serve(ctx.cfg, target_plan)  # (after a crash here: the next data step does it)
    return dataclasses.replace(
        state,
        phase=Phase.CLEANING_UP,
        write_block_ms=switched.write_block_ms,
        rows_copied=replication.rows(ctx.need(state, TARGET), ctx.tenant.tenant_key),
        replication_lag_bytes=0,
        message=f"switched to {target}; writes waited {switched.write_block_ms} ms",
    )


def _freeze(
    cfg: settings.OperatorSettings, side: replication.Side | None, plan: planning.DatabasePlan
) -> None:
    """The tenant's role may no longer change the old copy of a bridge schema or a silo; pooled
    rows are served by row-level security only while the catalog of their shard says pool (the
    routing row in the home shard, switched; a guard row in another, forgotten here)."""
    if side is None:
        return
    if plan.placement is not model.Isolation.POOL:
        grants.freeze(side.url, plan.schema, plan.role)
    elif plan.server != settings.HOME_SHARD:
        routes.unguard(cfg, plan)


def stop_copies(state: State, ctx: Context) -> None:
    """Stop every hop of the move and drop its staging schema, wherever the databases are
    still there. Idempotent; also used when a moving Tenant is deleted."""
    if state.backup:
        restoring.stop(state, _where(ctx))
        return
    key = ctx.tenant.tenant_key
    hops = ctx.hops(state)
    origin = ctx.side(state, SOURCE)
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
        _freeze(ctx.cfg, ctx.side(state, SOURCE), ctx.plan(state, SOURCE))
    else:
        databases.discard(ctx.cfg, ctx.dbs, ctx.plan(state, SOURCE))
    return dataclasses.replace(
        state,
        phase=Phase.COMPLETED,
        message=f"on {state.target}; source copy "
        + ("kept (deletionPolicy Retain)" if kept else "purged"),
    )


def gave_way(state: State, exc: fencing.FenceTimedOut) -> tuple[State, float]:
    """A switch that gave way to the tenant's writes (routing unchanged), and the seconds to
    wait before the next. Each try verifies the whole copy again before its fence, so tries back
    off (1 s, 2 s, 4 s, ... at most 30 s); after SWITCH_ATTEMPTS the move rolls back: the
    tenant writes too fast to be fenced within the deadline, which an admin sees in status and
    may retry when it is quieter."""
    tried = state.switch_attempts + 1
    times = f"the switch gave way to the tenant's writes {tried} times"
    if tried >= SWITCH_ATTEMPTS:
        stopped = dataclasses.replace(
            state,
            phase=Phase.ROLLING_BACK,
            switch_attempts=tried,
            reason=SWITCH_TIMED_OUT,
            message=f"{times}; the move stops",
            detail=str(exc),
        )
        return stopped, 0.0
    again = dataclasses.replace(
        state, switch_attempts=tried, message=f"{times}; trying again", detail=str(exc)
    )
    return again, min(2.0 ** (tried - 1), SWITCH_BACKOFF_MAX)


def _roll_back(state: State, ctx: Context) -> State:
    stop_copies(state, ctx)
    databases.discard(ctx.cfg, ctx.dbs, ctx.plan(state, TARGET))
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
    if state.backup:  # a live restore: its source is a backup
        return restoring.STEPS[state.phase](dataclasses.replace(state, detail=""), _where(ctx))
    return _STEPS[state.phase](dataclasses.replace(state, detail=""), ctx)


def _where(ctx: Context) -> restoring.Where:
    return restoring.Where(ctx.cfg, ctx.dbs, ctx.tenant)


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
        state = _phase(state, ctx, poll).ended(dt.datetime.now(dt.UTC))
        persist(state)
        if ctx.pause:
            ctx.stopping.wait(ctx.pause)
    return state
