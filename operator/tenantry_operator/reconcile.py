"""Reconciling one Tenant, offboarding one, and following Tier changes: what each kopf handler
asks for, carried out by ordered steps and turned into outcomes the handlers report.

A Tenant reconcile: a kept namespace taken over (`keeping`) → Tier → namespace → placement
decision (`decide`: a live migration starts in its own mover, goes on there, or waits; a
changed isolation model it cannot migrate to keeps the old placement and says
MigrationRequired) → credentials and data → restore → workload → the Tier's policy move
(`promoting`). A step may stop the sequence early; `status.compute` turns what was observed
into the whole status, and the `Outcome` carries it, the Events and, for failures worth
retrying, when to try again. A reconcile and an offboarding each run in a span under the
Tenant's trace, a child span per step (`traces`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from tenantry_core import resources
from tenantry_operator import (
    apply,
    conditions,
    databases,
    decide,
    keeping,
    migration_state,
    model,
    placing,
    planning,
    postgres,
    promoting,
    provisioner,
    provisioners,
    routes,
    servers,
    settings,
    snapshots,
    status,
    steps,
    stores,
    traces,
)

SERVING_FROM_SOURCE = conditions.StepResult(
    True, conditions.Reason.PROVISIONED, "serving from the migration's source"
)


class Unavailable(Exception):
    """A database server or the snapshot directory is not available yet; try again later."""


@dataclass
class Outcome:
    new_status: dict[str, Any]
    events: list[conditions.Event] = field(default_factory=list)
    retry_in: float | None = None  # seconds; set when a step should be tried again


def reconcile_tenant(
    body: steps.Body,
    *,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
    now: dt.datetime | None = None,
) -> Outcome:
    """Run the Tenant's steps in order, each only if the one it needs succeeded, and compute
    the status they add up to (in a span that continues the Tenant's trace)."""
    taken = keeping.take_over(body)  # a namespace kept when the Tenant CRD was deleted
    with traces.reconcile(taken.body) as traced:
        outcome = _reconcile(
            taken.body,
            refused=taken.refused,
            cfg=cfg,
            dbs=dbs,
            now=now or dt.datetime.now(dt.UTC),
        )
        traced.finished(outcome.new_status)
        return outcome


def _reconcile(
    body: steps.Body,
    *,
    refused: conditions.StepResult | None,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
    now: dt.datetime,
) -> Outcome:
    tenant = model.Tenant.from_body(body)
    recorded = dict(body.get("status") or {})
    obs = status.Observation(generation=tenant.generation, suspended=tenant.suspended)
    if refused is not None:  # a kept namespace that is another tenant's
        return _outcome(replace(obs, namespace=refused), recorded, now)
    with traces.step("tier", tenant) as step:
        tier = steps.load_tier(tenant.tier)
        if tier is None:
            missing = step.result(
                conditions.StepResult(
                    False, conditions.Reason.TIER_NOT_FOUND, f"Tier {tenant.tier!r} does not exist"
                )
            )
            return _outcome(replace(obs, blocked=missing), recorded, now)
    with traces.step("namespace", tenant) as step:
        namespace = step.result(steps.ensure_namespace(body, tenant, tier))
    obs = replace(
        obs, tier_revision=tier.revision, namespace_name=tenant.namespace, namespace=namespace
    )
    decision = decide.decide(
        tenant,
        tier,
        migration_state.stored(recorded),
        now,
        pool_shards=cfg.shard_names,
        silo_servers=[server.name for server in provisioner.declared(cfg.silo_urls)],
    )
    ended = None  # a move its mover finished: this reconcile writes its end and history
    if obs.namespace.ok and (to_run := decision.to_run) is not None:
        with traces.step("migration", tenant) as step:
            moved = steps.migrate(
                body, tenant=tenant, tier=tier, state=to_run, cfg=cfg, dbs=dbs
            )
            step.span.set_attributes(traces.phase_attributes(tenant, to_run.phase, moved.state))
        decision = decide.settle(decision, moved.state)
        obs = replace(obs, migration=moved.state, waiting=moved.waiting)
        ended = None if moved.state.running else moved.state
    obs = replace(obs, decision=decision)
    if obs.namespace.ok:
        with traces.step("data", tenant) as step:
            obs = _ensure_data(body, obs, tenant=tenant, tier=tier, cfg=cfg, dbs=dbs)
            step.span.set_attributes({traces.PLACEMENT: decision.placement.value})
            step.result(obs.database)
    if obs.database.ok:
        with traces.step("workload", tenant) as step:
            workload = step.result(
                steps.ensure_workload(
                    body,
                    tenant=tenant,
                    tier=tier,
                    placement=decision.placement,
                    server=obs.data[1].server if obs.data else decision.server,
                    cfg=cfg,
                )
            )
        obs = replace(obs, workload=workload)
        previous = list(recorded.get("conditions") or [])
        proposal = promoting.ensure(
            body, tenant=tenant, tier=tier, decision=decision, previous=previous, cfg=cfg, now=now
        )
        obs = replace(obs, proposal=proposal)
    outcome = _outcome(obs, recorded, now)
    if obs.waiting is not None:  # its mover writes the migration block and the placement
        for key in ("migration", "placement", "server"):
            outcome.new_status.pop(key, None)
    if ended is not None:
        moves = list(recorded.get("moves") or [])
        outcome.new_status["moves"] = migration_state.with_history(moves, ended)
        if ended.backup:  # for good: a later move's status must not ask for it again
            outcome.new_status["restoreRequested"] = ended.requested
    return outcome


def _ensure_data(
    body: steps.Body,
    obs: status.Observation,
    *,
    tenant: model.Tenant,
    tier: model.Tier,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> status.Observation:
    """Adopting retained data, the database step, then the restore; while a migration waits,
    its source serves."""
    assert obs.decision is not None
    placement = obs.decision.placement
    if obs.waiting is not None:
        return replace(obs, database=SERVING_FROM_SOURCE, placement=placement.value)
    server = obs.decision.server or None  # where a move this reconcile ran left it
    if tenant.placement is None and provisioners.places_by_policy(placement, tier, cfg):
        placed = placing.place_new(body, tenant, tier, placement, cfg=cfg)
        if isinstance(placed, conditions.StepResult):
            return replace(obs, database=placed)
        server = placed
    plan = planning.plan_database(tenant, placement, tier=tier, server=server)
    refused = steps.ensure_adopted(tenant, plan=plan, cfg=cfg, dbs=dbs)
    if refused is not None:
        return replace(obs, database=refused)
    result, endpoint = steps.ensure_database(
        body, tenant=tenant, tier=tier, plan=plan, cfg=cfg, dbs=dbs
    )
    obs = replace(obs, database=result, placement=placement.value)
    if endpoint is None:
        return obs
    obs = replace(obs, data=(plan, endpoint))
    restored = steps.ensure_restored(tenant, plan=plan, cfg=cfg, dbs=dbs)
    if restored is None:
        return obs
    if not restored.ok:
        return replace(obs, database=restored)
    return replace(obs, restored_from=tenant.restore_from)


def _outcome(obs: status.Observation, recorded: Mapping[str, Any], now: dt.datetime) -> Outcome:
    """The status to write, the Events its changes announce (and what it restored), and when
    to try again: soon while steps are only in progress, later after a failure, at 5 s while a
    migration waits."""
    previous = list(recorded.get("conditions") or [])
    new_status = status.compute(obs, previous, now)
    failed = obs.failed_steps()
    in_progress = [s for s in failed if s.reason in conditions.IN_PROGRESS]
    retry = None if not failed else 0.5 if len(in_progress) == len(failed) else 15.0
    events = conditions.events(previous, new_status["conditions"])
    drift = status.drift_event(obs, recorded)
    return Outcome(
        new_status=new_status,
        events=[*events, drift] if drift else events,
        retry_in=5.0 if obs.waiting is not None else retry,
    )


def offboard_tenant(
    body: steps.Body, *, cfg: settings.OperatorSettings, dbs: provisioner.DatabaseProvisioner
) -> status.Offboarded:
    """Carry out deletionPolicy on the tenant's data, then remove its namespace (owner references
    would too, once the garbage collector notices). Unavailable when it must be retried."""
    with traces.reconcile(body, "offboard"):
        tenant = model.Tenant.from_body(body)
        try:
            state = migration_state.stored(dict(body.get("status") or {}))
            offboarded = steps.offboard_data(tenant, state=state, cfg=cfg, dbs=dbs)
        except (
            postgres.DatabaseUnavailable,
            provisioner.ProvisionerUnavailable,
            snapshots.SnapshotError,
            stores.StoreUnavailable,  # the snapshot's bucket: tried again later
        ) as exc:
            raise Unavailable(str(exc)) from exc
        apply.delete("v1", "Namespace", tenant.namespace)
        traces.forget(tenant.tenant_key)
        return offboarded


def prepare_platform(
    cfg: settings.OperatorSettings, silos: Sequence[provisioner.Server] = ()
) -> None:
    """Every pool shard and the catalog of servers, once per operator start; Unavailable while
    a shard does not answer."""
    try:
        databases.ensure_platform(cfg)
        servers.declare(cfg, silos)
    except postgres.DatabaseUnavailable as exc:
        raise Unavailable(str(exc)) from exc
    refresh_servers(cfg, silos)


def refresh_servers(cfg: settings.OperatorSettings, silos: Sequence[provisioner.Server]) -> None:
    """The tenants and rows of each declared server in `tenantry.servers`."""
    try:
        servers.refresh(cfg, silos)
    except (postgres.DatabaseUnavailable, psycopg.Error) as exc:
        raise Unavailable(str(exc)) from exc


def tier_changed(
    *, cfg: settings.OperatorSettings, tier: str, spec: Mapping[str, Any], tenants: Iterable[str]
) -> list[str]:
    """Publish the Tier's features and app request limit for the app, and stamp its revision on
    each of its Tenants (each then re-reconciles itself); returns the Tenants stamped."""
    routes.publish_tier(cfg, model.Tier.from_body({"metadata": {"name": tier}, "spec": spec}))
    revision = model.revision_of(dict(spec))
    stamped = []
    for tenant in tenants:
        current = apply.get(resources.API_VERSION, resources.TENANT_KIND, tenant)
        annotations = ((current or {}).get("metadata") or {}).get("annotations") or {}
        if current is None or annotations.get(resources.ANNOTATION_TIER_REVISION) == revision:
            continue
        apply.merge_patch(
            resources.API_VERSION,
            resources.TENANT_KIND,
            tenant,
            {"metadata": {"annotations": {resources.ANNOTATION_TIER_REVISION: revision}}},
        )
        stamped.append(tenant)
    return stamped


def tier_deleted(*, cfg: settings.OperatorSettings, tier: str) -> None:
    """A deleted Tier grants no features and no requests any more."""
    routes.forget_tier(cfg, tier)
