"""Live migration of a tenant between the pool and a silo, as resumable, idempotent steps.

Phases, in order: Provisioning (the target database and role; routing untouched) → Copying
(logical replication of the tenant's rows: initial copy, then streaming) → CatchingUp (until the
replication lag is small) → Switching (fence the tenant's writes, let the target catch up,
verify row counts and checksums, point the routing row at the target, release) → CleaningUp
(drop the replication objects, purge the source unless deletionPolicy is Retain) → Completed.
A verification failure goes to RollingBack (routing stays on the source, the target is
discarded) → Failed. Progress lives in `status.migration`, so an operator killed at any step
continues from where it was.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from tenantry_core import enums, routing
from tenantry_operator import databases, model, planning, provisioner, replication, settings

LAG_SMALL_ENOUGH = 256 * 1024  # bytes of WAL the target may be behind before the fence
SUPPORTED = {model.Isolation.POOL, model.Isolation.SILO}


Phase = enums.MigrationPhase


TERMINAL = {Phase.COMPLETED, Phase.FAILED}


def supported(source: model.Isolation, target: model.Isolation) -> bool:
    return source != target and {source, target} <= SUPPORTED


def begin(
    tenant: model.Tenant, source: model.Isolation, target: model.Isolation, now: dt.datetime
) -> dict[str, Any]:
    return {
        "phase": Phase.PROVISIONING.value,
        "source": source.value,
        "target": target.value,
        "started": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generation": tenant.generation,
        "rowsCopied": 0,
        "replicationLagBytes": None,
        "writeBlockMs": None,
        "message": "",
    }


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
        return replication.Side(self.cfg.admin_url(self.cfg.pool_database), plan.schema)

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


def _route_sql(ctx: Context, target: model.Isolation, endpoint: planning.Endpoint) -> sql.Composed:
    plan = ctx.plan(target)
    silo = target is model.Isolation.SILO
    return sql.SQL(
        "UPDATE {} SET placement = {}, schema_name = {}, db_host = {}, "
        "db_port = {}, db_name = {}, updated_at = now() WHERE {} = {}"
    ).format(
        sql.SQL(routing.ROUTING_TABLE),
        sql.Literal(target.value),
        sql.Literal(plan.schema),
        sql.Literal(endpoint.host if silo else None),
        sql.Literal(endpoint.port if silo else None),
        sql.Literal(endpoint.database if silo else None),
        sql.Identifier(routing.TENANT_COLUMN),
        sql.Literal(plan.tenant_key),
    )


def _routed_to(ctx: Context, placement: model.Isolation) -> bool:
    with databases.connect(ctx.pool_url) as conn:
        row = conn.execute(
            f"SELECT placement FROM {routing.ROUTING_TABLE} WHERE {routing.TENANT_COLUMN} = %s",
            (ctx.tenant.key,),
        ).fetchone()
    return row is not None and row[0] == placement.value


def _freeze(url: str, schema: str, role: str) -> None:
    """The tenant's role may no longer change the old copy (a silo's dedicated pods)."""
    with databases.connect(url) as conn:
        conn.execute(
            sql.SQL("REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} FROM {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )


def _discard(ctx: Context, placement: model.Isolation) -> None:
    """Remove the tenant's data from a placement that is not (or no longer) routed to."""
    plan = ctx.plan(placement)
    if placement is model.Isolation.SILO:
        assert plan.database is not None
        ctx.dbs.drop(plan.database)
        return
    with databases.connect(ctx.pool_url) as conn, conn.transaction():
        for table in databases.tenant_tables(conn, plan.schema):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                    sql.Identifier(plan.schema, table), sql.Identifier(routing.TENANT_COLUMN)
                ),
                (plan.tenant_key,),
            )


def step(state: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Carry out the current phase once; returns the state to persist (maybe the same phase)."""
    phase = Phase(state["phase"])
    source, target = model.Isolation(state["source"]), model.Isolation(state["target"])
    key = ctx.tenant.key
    new = dict(state)
    if phase is Phase.PROVISIONING:
        endpoint = databases.ensure_tenant(
            ctx.cfg, ctx.dbs, ctx.plan(target), ctx.password, route=False
        )
        new.update(
            phase=Phase.COPYING.value,
            message=f"target ready at {endpoint.host}:{endpoint.port}/{endpoint.database}",
        )
    elif phase is Phase.COPYING:
        replication.start(ctx.need(source), ctx.need(target), key)
        done, rows = replication.copied(ctx.need(target), key)
        new.update(rowsCopied=rows, message=f"{rows} rows copied")
        if done:
            new["phase"] = Phase.CATCHING_UP.value
    elif phase is Phase.CATCHING_UP:
        lag = replication.lag_bytes(ctx.need(source), key)
        _, rows = replication.copied(ctx.need(target), key)
        new.update(replicationLagBytes=lag, rowsCopied=rows, message=f"replication lag {lag} bytes")
        if lag is not None and lag <= LAG_SMALL_ENOUGH:
            new["phase"] = Phase.SWITCHING.value
    elif phase is Phase.SWITCHING:
        if _routed_to(ctx, target):  # switched before a crash; the fence is long released
            new.update(phase=Phase.CLEANING_UP.value)
            return new
        endpoint = databases.ensure_tenant(
            ctx.cfg, ctx.dbs, ctx.plan(target), ctx.password, route=False
        )
        source_side = ctx.need(source)
        fences = [source_side.url] if source is model.Isolation.SILO else []
        try:
            switched = replication.fenced_switch(
                ctx.pool_url,
                fences,
                source_side,
                ctx.need(target),
                key,
                _route_sql(ctx, target, endpoint),
            )
        except replication.VerificationFailed as exc:
            new.update(phase=Phase.ROLLING_BACK.value, message=str(exc))
            return new
        if source is model.Isolation.SILO:
            _freeze(source_side.url, ctx.plan(source).schema, ctx.plan(source).role)
        new.update(
            phase=Phase.CLEANING_UP.value,
            writeBlockMs=switched.write_block_ms,
            rowsCopied=switched.rows,
            replicationLagBytes=0,
            message=f"switched to {target}; writes waited {switched.write_block_ms} ms",
        )
    elif phase is Phase.CLEANING_UP:
        replication.stop(ctx.side(source), ctx.side(target), key)
        kept = ctx.tenant.deletion_policy is model.DeletionPolicy.RETAIN
        if not kept:
            _discard(ctx, source)
        new.update(
            phase=Phase.COMPLETED.value,
            message=f"on {target}; source copy "
            + ("kept (deletionPolicy Retain)" if kept else "purged"),
        )
    elif phase is Phase.ROLLING_BACK:
        replication.stop(ctx.side(source), ctx.side(target), key)
        _discard(ctx, target)
        new.update(phase=Phase.FAILED.value)
    return new


def run(
    state: dict[str, Any],
    ctx: Context,
    persist: Callable[[dict[str, Any]], None],
    *,
    poll: float = 0.05,
) -> dict[str, Any]:
    """Advance until Completed or Failed, persisting after every change of phase."""
    while Phase(state["phase"]) not in TERMINAL:
        new = step(state, ctx)
        if new["phase"] != state["phase"]:
            persist(new)
            if ctx.pause:
                time.sleep(ctx.pause)
        else:
            time.sleep(poll)
        state = new
    return state
