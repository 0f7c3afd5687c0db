"""The steps `reconcile` runs for one Tenant, each idempotent and each reporting a StepResult:
Tier → namespace → live migration (started in, or left to, its mover: `movers`) → credentials
and data → restore → workload, and the offboarding of its data when it is deleted.

The I/O is theirs (through `apply` for Kubernetes, `databases` and friends for Postgres); what
to do comes from `planning` and `decide`, and what status to write from `status`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from tenantry_core import resources
from tenantry_operator import (
    apply,
    conditions,
    databases,
    migration,
    migration_state,
    model,
    movers,
    placing,
    planning,
    postgres,
    provisioner,
    retention,
    routes,
    settings,
    snapshots,
    status,
    stores,
)

Body = Mapping[str, Any]  # the Tenant as kopf passed it: its children's owner
StepResult = conditions.StepResult
Phase = migration_state.Phase
Reason = conditions.Reason
log = logging.getLogger(__name__)
UNAVAILABLE, FAILED = conditions.UNAVAILABLE, conditions.FAILED


def _logged(tenant: model.Tenant, reason: Reason, public: str, exc: Exception) -> StepResult:
    """A failed step whose condition says `public`; the error itself goes to the operator log."""
    log.warning("tenant %s: %s: %s", tenant.tenant_key, reason.value, str(exc).strip())
    return StepResult(False, reason, public)


def load_tier(name: str) -> model.Tier | None:
    body = apply.get(resources.API_VERSION, resources.TIER_KIND, name)
    return model.Tier.from_body(body) if body else None


def ensure_namespace(body: Body, tenant: model.Tenant, tier: model.Tier) -> StepResult:
    try:
        objects = planning.plan_namespace(tenant, tier)
        changed = tuple(apply.apply_owned(body, objects, at_once=True))
    except apply.ApplyError as exc:
        return StepResult(False, Reason.APPLY_FAILED, str(exc))
    if not apply.namespace_active(tenant.namespace):
        return StepResult(
            False, Reason.NAMESPACE_NOT_READY, f"namespace {tenant.namespace} is not active yet"
        )
    return StepResult(
        True,
        Reason.PROVISIONED,
        f"namespace {tenant.namespace} with quota, limits, policy and RBAC",
        changed,
    )


@dataclass(frozen=True)
class Migrated:
    """Where a live migration got to in this reconcile; `waiting` says why it must be retried."""

    state: migration_state.MigrationState
    waiting: str | None = None


def migrate(
    body: Body,
    *,
    tenant: model.Tenant,
    tier: model.Tier,
    state: migration_state.MigrationState,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> Migrated:
    """Start the Tenant's live migration in a mover of its own (`movers`), or leave the one
    under way to it (`waiting` says so: the reconcile goes on serving from where status says
    the data is). Once the mover reached Completed or Failed, that end is returned for this
    reconcile to write, with the status it implies, in one patch."""
    key = tenant.tenant_key
    if not state.target_server and not movers.MOVERS.busy(key):
        try:
            state = placing.silo_target(tenant, tier, state, cfg)
        except postgres.DatabaseUnavailable as exc:
            log.warning("tenant %s: the servers catalog: %s", key, exc)
            return Migrated(state, "the servers catalog does not answer yet")
        if not state.running:
            return Migrated(state)
    ended = movers.MOVERS.collect(key)
    if (
        isinstance(ended, migration_state.MigrationState)
        and not ended.running
        and (ended.started, ended.target) == (state.started, state.target)
    ):
        return Migrated(ended)
    if not movers.MOVERS.busy(key):  # its status says where it starts, before it runs
        _persist(body, tenant, state)
    job = functools.partial(_move, body, tenant=tenant, state=state, cfg=cfg, dbs=dbs)
    limit = cfg.max_concurrent_moves
    if movers.MOVERS.submit(key, job, limit=limit):
        return Migrated(state, "the move is under way in its own runner")
    return Migrated(state, f"queued: at most {limit} moves run at once")


def _persist(body: Body, tenant: model.Tenant, new: migration_state.MigrationState) -> None:
    """A move's phase in status (unless it ended: the reconcile writes that) and its Event."""
    now = apply.get(resources.API_VERSION, resources.TENANT_KIND, tenant.tenant_key) or body
    previous = list((now.get("status") or {}).get("conditions") or [])
    progress = status.migration_progress(new, previous, dt.datetime.now(dt.UTC))
    if new.running:
        apply.patch_status(tenant.tenant_key, progress.patch)
    apply.post_event(body, progress.event)
    if new.detail:  # the raw words of a failure are a warning; a target's address is not
        level = logging.WARNING if new.reason else logging.INFO
        log.log(level, "tenant %s: migration %s: %s", tenant.tenant_key, new.phase, new.detail)


def _move(
    body: Body,
    stopping: threading.Event,
    *,
    tenant: model.Tenant,
    state: migration_state.MigrationState,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> migration_state.MigrationState:
    """Drive a live migration to its end, reporting each phase in status and an Event; the end
    itself (Completed, Failed) only as an Event and the return value: the reconcile that
    collects it writes it. A database it cannot reach leaves it where it was, to be resumed by
    the next reconcile."""
    stored = apply.read_secret(tenant.namespace, planning.SECRET_NAME, owner_uid=tenant.uid) or {}
    ctx = migration.Context(
        cfg,
        dbs,
        tenant,
        stored.get("password", ""),
        pause=cfg.migration_step_pause,
        stopping=stopping,
    )
    try:
        return migration.run(state, ctx, functools.partial(_persist, body, tenant))
    except (postgres.DatabaseUnavailable, provisioner.ProvisionerUnavailable, psycopg.Error) as exc:
        raw = str(exc).strip()
        log.warning("tenant %s: migration waits: %s", tenant.tenant_key, raw)
        waits = conditions.Event("Warning", "MigrationWaiting", f"{state.phase}: {raw}")
        apply.post_event(body, waits)
        return state


def ensure_database(
    body: Body,
    *,
    tenant: model.Tenant,
    tier: model.Tier,
    plan: planning.DatabasePlan,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> tuple[StepResult, planning.Endpoint | None]:
    """Credentials first (the Secret is the source of truth for the password), then the data
    and its routing row; returns where the data answers once it does."""
    try:
        stored = (
            apply.read_secret(tenant.namespace, planning.SECRET_NAME, owner_uid=tenant.uid) or {}
        )
        password = stored.get("password") or secrets.token_urlsafe(24)
        endpoint = databases.ensure_tenant(cfg, dbs, plan, password)
        rerouted = routes.upsert(cfg, plan, endpoint)
        changed = apply.apply_owned(
            body,
            [
                planning.plan_secret(tenant, tier, plan, endpoint, password),
                *planning.plan_egress_policy(tenant, tier, endpoint),
            ],
        )
        if not plan.suspended:
            databases.check_login(plan, endpoint, password)
    except apply.ApplyError as exc:
        return StepResult(False, Reason.APPLY_FAILED, str(exc)), None
    except provisioner.ToolMissing as exc:  # its message names the tool, never a secret
        return StepResult(False, Reason.PROVISIONER_MISSING, str(exc)), None
    except provisioner.ProvisioningFailed as exc:
        return StepResult(False, Reason.PROVISIONING_FAILED, str(exc)), None
    except (postgres.DatabaseUnavailable, provisioner.ProvisionerUnavailable) as exc:
        return _logged(tenant, Reason.DATABASE_UNAVAILABLE, UNAVAILABLE, exc), None
    except psycopg.Error as exc:
        return _logged(tenant, Reason.DATABASE_FAILED, FAILED, exc), None
    shard = f"{endpoint.database} (pool shard {plan.server})"
    where = {
        model.Isolation.POOL: f"rows under row-level security in {shard}",
        model.Isolation.BRIDGE: f"schema {plan.schema} in {shard}",
        model.Isolation.SILO: f"database {plan.database} of its own",
    }[plan.placement]
    changed += [rerouted] if rerouted else []
    done = StepResult(True, Reason.PROVISIONED, f"role {plan.role}, {where}", tuple(changed))
    return done, endpoint


def ensure_adopted(
    tenant: model.Tenant,
    *,
    plan: planning.DatabasePlan,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> StepResult | None:
    """Take over the data retained from the Tenant spec.adoptRetainedFrom names, before the
    tenant's own data is provisioned; None when there is nothing (more) to adopt."""
    uid = tenant.adopt_retained_from
    if not uid:
        return None
    try:
        if retention.adopt(cfg, dbs, plan, uid) or retention.has_own_data(cfg, dbs, plan):
            return None
    except retention.AdoptionRefused as exc:
        return StepResult(False, Reason.ADOPTION_FAILED, str(exc))
    except (postgres.DatabaseUnavailable, provisioner.ProvisionerUnavailable) as exc:
        return _logged(tenant, Reason.DATABASE_UNAVAILABLE, UNAVAILABLE, exc)
    except psycopg.Error as exc:
        return _logged(tenant, Reason.DATABASE_FAILED, FAILED, exc)
    return StepResult(
        False, Reason.ADOPTION_FAILED, f"no data retained from Tenant {uid} is left to adopt"
    )


def ensure_restored(
    tenant: model.Tenant,
    *,
    plan: planning.DatabasePlan,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> StepResult | None:
    """Load spec.restoreFrom once; None when there is nothing (more) to restore."""
    wanted = tenant.restore_from
    if not wanted or tenant.restored_from == wanted:
        return None
    url = databases.data_url(cfg, dbs, plan)
    try:
        store = stores.of(cfg)
        taken_from = snapshots.manifest_of(store, wanted).get("uid")
        if taken_from != tenant.uid and not tenant.restore_from_any:
            return StepResult(
                False,
                Reason.RESTORE_REFUSED,
                f"snapshot {wanted} is not of this Tenant; a platform admin may allow it with "
                f'the annotation {resources.ANNOTATION_RESTORE_FROM_ANY}: "true"',
            )
        assert url is not None
        loaded = snapshots.restore(url, plan, store, wanted)
    except snapshots.SnapshotMissing as exc:
        return StepResult(False, Reason.RESTORE_FAILED, f"restore from {wanted}: {exc}")
    except (snapshots.SnapshotError, OSError, ValueError, psycopg.Error) as exc:
        public = f"restore from {wanted} failed; the operator's log has the details"
        return _logged(tenant, Reason.RESTORE_FAILED, public, exc)
    return StepResult(True, Reason.PROVISIONED, f"restored {loaded} rows from {wanted}")


def ensure_workload(
    body: Body,
    *,
    tenant: model.Tenant,
    tier: model.Tier,
    placement: model.Isolation,
    server: str,
    cfg: settings.OperatorSettings,
) -> StepResult:
    """A silo tenant's dedicated app on silo `server`, until it is available; other placements
    use the shared app, and a tenant that moved off a silo keeps no dedicated one."""
    if placement is not model.Isolation.SILO:
        if apply.get("apps/v1", "Deployment", "app", tenant.namespace) is not None:
            apply.delete("apps/v1", "Deployment", "app", tenant.namespace)
            apply.delete("v1", "Service", "app", tenant.namespace)
            apply.delete("v1", "Secret", planning.APP_SECRET_NAME, tenant.namespace)
        return StepResult(
            True, Reason.SHARED_WORKLOAD, "served by the shared app (tenantry-system/app-pool)"
        )
    objects = planning.plan_workload(tenant, tier, cfg.app_image, cfg.app_jwt_public_key, server)
    try:
        changed = tuple(apply.apply_owned(body, objects))
    except apply.ApplyError as exc:
        return StepResult(False, Reason.APPLY_FAILED, str(exc))
    deployment = apply.get("apps/v1", "Deployment", "app", tenant.namespace) or {}
    wanted = int(deployment.get("spec", {}).get("replicas", 0))
    observed = deployment.get("status") or {}
    available = int(observed.get("availableReplicas") or 0)
    current = observed.get("observedGeneration", 0) >= deployment.get("metadata", {}).get(
        "generation", 1
    )
    ready = current and available >= wanted and int(observed.get("replicas") or 0) <= wanted
    return StepResult(
        ready,
        Reason.PROVISIONED if ready else Reason.WORKLOAD_NOT_READY,
        f"deployment app: {available}/{wanted} replicas available",
        changed,
    )


def end_migration(
    tenant: model.Tenant,
    placement: model.Isolation,
    *,
    state: migration_state.MigrationState,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> planning.DatabasePlan:
    """For a Tenant being deleted: stop its live migration's copies (subscription, slot and
    publication, triggers, staging schema), and discard the copy it is not served from (a
    target not switched to, or a kept source); returns where it is served from. Idempotent, in
    an order a repeat finds."""
    movers.MOVERS.stop(tenant.tenant_key)  # its mover first: it would start them again
    ctx = migration.Context(cfg, dbs, tenant, "")
    migration.stop_copies(state, ctx)
    if state.backup:  # a live restore: the tenant's one copy is where it is placed
        return planning.plan_database(tenant, placement)
    switched = ctx.switched(state)
    current, stale = databases.offboarding_copies(placement, state, switched)
    if stale is None:
        return planning.plan_database(tenant, current)
    after = switched or state.phase in (Phase.CLEANING_UP, Phase.COMPLETED)
    served, other = (migration.TARGET, migration.SOURCE)
    if not after:
        served, other = other, served
    databases.discard(cfg, dbs, ctx.plan(state, other))
    return ctx.plan(state, served)


def offboard_data(
    tenant: model.Tenant,
    *,
    state: migration_state.MigrationState | None,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> status.Offboarded:
    """Carry out the tenant's deletionPolicy on its data: keep it with logins stopped, or
    delete it (after a snapshot, for Snapshot). A live migration's copies and replication end
    first: one copy is left to keep or delete."""
    if tenant.placement is None:
        databases.disable_unplaced(cfg, dbs, tenant.tenant_key)
        return status.Offboarded(
            "no placement was recorded; any role and routing row of the tenant are disabled"
        )
    plan = planning.plan_database(tenant, tenant.placement)
    if state is not None:
        plan = end_migration(tenant, tenant.placement, state=state, cfg=cfg, dbs=dbs)
    plan = replace(plan, suspended=True)
    if tenant.deletion_policy is model.DeletionPolicy.RETAIN:
        database = retention.retain(cfg, dbs, plan, tenant.uid)
        name = model.retained_name(tenant.uid)
        schema = name if plan.placement is model.Isolation.BRIDGE else plan.schema
        return status.Offboarded(
            f"retained the tenant's data ({plan.placement} in {database}/{schema}, "
            f"keyed {name}); role {plan.role} dropped",
            retained=status.Retained(plan.placement, database, schema, name, tenant.uid),
        )
    snapshot = None
    if tenant.deletion_policy is model.DeletionPolicy.SNAPSHOT:
        name = f"{tenant.tenant_key}-{tenant.uid[:8]}"
        # A retry (the operator died after the dump) keeps the snapshot it wrote first.
        store = stores.of(cfg)
        manifest = snapshots.written(store, name)
        url = databases.data_url(cfg, dbs, plan) if manifest is None else None
        if url is not None:
            manifest = snapshots.dump(url, plan, store, name, uid=tenant.uid)
        if manifest is not None:
            snapshot = status.Snapshot(manifest["file"], manifest["rows"])
        time.sleep(cfg.offboard_step_pause)
    databases.delete_tenant(cfg, dbs, plan)
    time.sleep(cfg.offboard_step_pause)
    what = f"snapshot {snapshot.file} written, then " if snapshot else ""
    return status.Offboarded(
        f"{what}deleted the tenant's data ({plan.placement}) and role {plan.role}",
        snapshot=snapshot,
    )
