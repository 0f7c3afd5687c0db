"""Reconciling one Tenant: an ordered list of idempotent ensure-steps, then computed status.

Called by the kopf handlers. Steps: Tier → placement (a changed isolation model keeps the old
placement and says MigrationRequired) → namespace → credentials and data → restore → workload.
A step may stop the sequence early; the outcome is an `Outcome` the handler turns into a status
patch, Events and, for failures worth retrying, a kopf TemporaryError.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import kopf
import psycopg

from tenantry_core import resources
from tenantry_operator import (
    apply,
    databases,
    migration,
    model,
    planning,
    provisioner,
    settings,
    snapshots,
    status,
)


@dataclass
class Outcome:
    new_status: dict[str, Any]
    events: list[status.Event] = field(default_factory=list)
    retry_in: float | None = None  # seconds; set when a step should be tried again


def _load_tier(name: str) -> model.Tier | None:
    body = apply.get(resources.API_VERSION, resources.TIER_KIND, name)
    return model.Tier.from_body(body) if body else None


def _apply_owned(body: kopf.Body, objects: list[dict[str, Any]]) -> None:
    kopf.adopt(objects, owner=body)
    apply.apply(objects)


def ensure_namespace(body: kopf.Body, tenant: model.Tenant, tier: model.Tier) -> status.StepResult:
    try:
        _apply_owned(body, planning.plan_namespace(tenant, tier))
    except apply.ApplyError as exc:
        return status.StepResult(False, status.Reason.APPLY_FAILED, str(exc))
    if not apply.namespace_active(tenant.namespace):
        return status.StepResult(
            False,
            status.Reason.NAMESPACE_NOT_READY,
            f"namespace {tenant.namespace} is not active yet",
        )
    return status.StepResult(
        True,
        status.Reason.PROVISIONED,
        f"namespace {tenant.namespace} with quota, limits, policy and RBAC",
    )


def ensure_database(
    body: kopf.Body,
    tenant: model.Tenant,
    tier: model.Tier,
    plan: planning.DatabasePlan,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> tuple[status.StepResult, planning.Endpoint | None]:
    """Credentials first (the Secret is the source of truth for the password), then the data."""
    try:
        stored = apply.read_secret(tenant.namespace, planning.SECRET_NAME) or {}
        password = stored.get("password") or secrets.token_urlsafe(24)
        endpoint = databases.ensure_tenant(cfg, dbs, plan, password)
        _apply_owned(body, [planning.plan_secret(tenant, tier, plan, endpoint, password)])
        if not plan.suspended:
            databases.check_login(plan, endpoint, password)
    except apply.ApplyError as exc:
        return status.StepResult(False, status.Reason.APPLY_FAILED, str(exc)), None
    except (databases.DatabaseUnavailable, provisioner.ProvisionerUnavailable) as exc:
        return status.StepResult(False, status.Reason.DATABASE_UNAVAILABLE, str(exc)), None
    except psycopg.Error as exc:
        return status.StepResult(False, status.Reason.DATABASE_FAILED, str(exc).strip()), None
    where = {
        model.Isolation.POOL: f"rows under row-level security in {cfg.pool_database}",
        model.Isolation.BRIDGE: f"schema {plan.schema} in {cfg.pool_database}",
        model.Isolation.SILO: f"database {plan.database} on {endpoint.host}:{endpoint.port}",
    }[plan.placement]
    return status.StepResult(
        True, status.Reason.PROVISIONED, f"role {plan.role}, {where}"
    ), endpoint


def ensure_restored(
    body: kopf.Body,
    plan: planning.DatabasePlan,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> status.StepResult | None:
    """Load spec.restoreFrom once; None when there is nothing (more) to restore."""
    wanted = str((body.get("spec") or {}).get("restoreFrom") or "")
    if not wanted or (body.get("status") or {}).get("restoredFrom") == wanted:
        return None
    url = databases.data_url(cfg, dbs, plan)
    try:
        assert url is not None
        loaded = snapshots.restore(url, plan, cfg.snapshot_dir / wanted)
    except (snapshots.SnapshotError, OSError, ValueError, psycopg.Error) as exc:
        return status.StepResult(
            False, status.Reason.RESTORE_FAILED, f"restore from {wanted}: {exc}"
        )
    return status.StepResult(
        True, status.Reason.PROVISIONED, f"restored {loaded} rows from {wanted}"
    )


def ensure_workload(
    body: kopf.Body,
    tenant: model.Tenant,
    tier: model.Tier,
    placement: model.Isolation,
    cfg: settings.OperatorSettings,
) -> status.StepResult:
    if placement is not model.Isolation.SILO:
        if apply.get("apps/v1", "Deployment", "app", tenant.namespace) is not None:
            # A tenant that moved off a silo keeps no dedicated app.
            apply.delete("apps/v1", "Deployment", "app", tenant.namespace)
            apply.delete("v1", "Service", "app", tenant.namespace)
            apply.delete("v1", "Secret", planning.APP_SECRET_NAME, tenant.namespace)
        return status.StepResult(
            True,
            status.Reason.SHARED_WORKLOAD,
            "served by the shared app (tenantry-system/app-pool)",
        )
    objects = planning.plan_workload(tenant, tier, cfg.app_image, cfg.app_jwt_public_key)
    try:
        _apply_owned(body, objects)
    except apply.ApplyError as exc:
        return status.StepResult(False, status.Reason.APPLY_FAILED, str(exc))
    deployment = apply.get("apps/v1", "Deployment", "app", tenant.namespace) or {}
    wanted = int(deployment.get("spec", {}).get("replicas", 0))
    observed = deployment.get("status") or {}
    available = int(observed.get("availableReplicas") or 0)
    current = observed.get("observedGeneration", 0) >= deployment.get("metadata", {}).get(
        "generation", 1
    )
    if current and available >= wanted and int(observed.get("replicas") or 0) <= wanted:
        return status.StepResult(
            True,
            status.Reason.PROVISIONED,
            f"deployment app: {available}/{wanted} replicas available",
        )
    return status.StepResult(
        False,
        status.Reason.WORKLOAD_NOT_READY,
        f"deployment app: {available}/{wanted} replicas available",
    )


def _migrating_condition(
    previous: list[dict[str, Any]], state: dict[str, Any], now: dt.datetime
) -> list[dict[str, Any]]:
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kept = [c for c in previous if c.get("type") != status.ConditionType.MIGRATING]
    return [
        *kept,
        {
            "type": status.ConditionType.MIGRATING.value,
            "status": "True",
            "reason": status.Reason.MIGRATION_IN_PROGRESS.value,
            "message": f"{state['phase']}: {state.get('message', '')}",
            "lastTransitionTime": stamp,
        },
    ]


def run_migration(
    body: kopf.Body,
    tenant: model.Tenant,
    state: dict[str, Any],
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
) -> dict[str, Any]:
    """Drive a live migration to its end, reporting each step in status and an Event."""
    previous = list((body.get("status") or {}).get("conditions") or [])
    stored = apply.read_secret(tenant.namespace, planning.SECRET_NAME) or {}
    ctx = migration.Context(
        cfg, dbs, tenant, stored.get("password", ""), pause=cfg.migration_step_pause
    )

    def persist(new: dict[str, Any]) -> None:
        patch: dict[str, Any] = {
            "migration": new,
            "conditions": _migrating_condition(previous, new, dt.datetime.now(dt.UTC)),
        }
        if new["phase"] in (migration.Phase.CLEANING_UP, migration.Phase.COMPLETED):
            patch["placement"] = new["target"]  # routing already points at the target
        apply.patch_status(tenant.name, patch)
        failed = new["phase"] in (migration.Phase.ROLLING_BACK, migration.Phase.FAILED)
        kopf.event(
            body,
            type="Warning" if failed else "Normal",
            reason=f"Migration{new['phase']}",
            message=f"{new['source']} → {new['target']}: {new.get('message', '')}",
        )

    persist(state)
    return migration.run(state, ctx, persist)


def reconcile_tenant(
    body: kopf.Body,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
    now: dt.datetime | None = None,
) -> Outcome:
    now = now or dt.datetime.now(dt.UTC)
    tenant = model.Tenant.from_body(body)
    previous = list((body.get("status") or {}).get("conditions") or [])
    obs = status.Observation(generation=tenant.generation, suspended=tenant.suspended)
    extra: dict[str, Any] = {}
    retry_migration = False

    tier = _load_tier(tenant.tier)
    if tier is None:
        obs = replace(
            obs,
            blocked=status.StepResult(
                False, status.Reason.TIER_NOT_FOUND, f"Tier {tenant.tier!r} does not exist"
            ),
        )
    else:
        placement = tenant.placement or tier.isolation
        extra.update(tierRevision=tier.revision, namespace=tenant.namespace)
        obs = replace(obs, namespace=ensure_namespace(body, tenant, tier))
        state = dict((body.get("status") or {}).get("migration") or {})
        running = bool(state) and migration.Phase(state["phase"]) not in migration.TERMINAL
        failed_here = (
            state.get("phase") == migration.Phase.FAILED
            and state.get("generation") == tenant.generation
            and state.get("target") == tier.isolation.value
        )
        wanted = placement is not tier.isolation and migration.supported(placement, tier.isolation)
        if obs.namespace.ok and (running or (wanted and not failed_here)):
            if not running:
                state = migration.begin(tenant, placement, tier.isolation, now)
            try:
                state = run_migration(body, tenant, state, cfg, dbs)
            except (
                databases.DatabaseUnavailable,
                provisioner.ProvisionerUnavailable,
                psycopg.Error,
            ) as exc:
                obs = replace(
                    obs,
                    migrating=status.StepResult(
                        True,
                        status.Reason.MIGRATION_IN_PROGRESS,
                        f"{state['phase']}: waiting: {str(exc).strip()}",
                    ),
                )
                retry_migration = True
            extra["migration"] = state
            if state["phase"] == migration.Phase.COMPLETED:
                placement = model.Isolation(state["target"])
            failed_here = state["phase"] == migration.Phase.FAILED
        if failed_here:
            obs = replace(
                obs,
                migration_failed=status.StepResult(
                    True,
                    status.Reason.VERIFICATION_FAILED,
                    f"{state.get('message', '')}; the tenant stays on {placement}",
                ),
            )
        if placement is not tier.isolation:
            how = (
                "a live migration failed; change the Tenant to try again"
                if failed_here
                else "live migration is not supported between these models"
                if not migration.supported(placement, tier.isolation)
                else "its live migration is under way"
            )
            obs = replace(
                obs,
                migration=status.StepResult(
                    True,
                    status.Reason.ISOLATION_CHANGED,
                    f"Tier {tier.name!r} uses {tier.isolation} isolation; the tenant stays on "
                    f"{placement}: {how} (its data is untouched)",
                ),
            )
        plan = planning.plan_database(tenant, placement)
        if obs.namespace.ok and not retry_migration:
            db_step, endpoint = ensure_database(body, tenant, tier, plan, cfg, dbs)
            obs = replace(obs, database=db_step, placement=placement.value)
            if endpoint is not None:
                extra["database"] = planning.database_status(tenant, plan, endpoint)
                restored = ensure_restored(body, plan, cfg, dbs)
                if restored is not None and not restored.ok:
                    obs = replace(obs, database=restored)
                elif restored is not None:
                    extra["restoredFrom"] = str(body["spec"]["restoreFrom"])
        elif retry_migration:
            obs = replace(
                obs,
                database=status.StepResult(
                    True, status.Reason.PROVISIONED, "serving from the migration's source"
                ),
                placement=placement.value,
            )
        if obs.database.ok:
            obs = replace(obs, workload=ensure_workload(body, tenant, tier, placement, cfg))

    new_status = {**status.status(obs, previous, now), **extra}
    failed = obs.failed_steps()
    waiting = [s for s in failed if s.reason in status.IN_PROGRESS]
    retry = None if not failed else 0.5 if len(waiting) == len(failed) else 15.0
    return Outcome(
        new_status=new_status,
        events=status.events(previous, new_status["conditions"]),
        retry_in=5.0 if retry_migration else retry,
    )


def offboard_tenant(
    body: Mapping[str, Any], cfg: settings.OperatorSettings, dbs: provisioner.DatabaseProvisioner
) -> tuple[str, dict[str, Any]]:
    """Carry out deletionPolicy on the tenant's data, then remove its namespace (owner references
    would too, once the garbage collector notices). Returns what was done and status to record."""
    tenant = model.Tenant.from_body(body)
    done, recorded = _offboard_data(tenant, cfg, dbs)
    apply.delete("v1", "Namespace", tenant.namespace)
    return done, recorded


def _offboard_data(
    tenant: model.Tenant, cfg: settings.OperatorSettings, dbs: provisioner.DatabaseProvisioner
) -> tuple[str, dict[str, Any]]:
    if tenant.placement is None:
        return "no data was provisioned", {}
    plan = replace(planning.plan_database(tenant, tenant.placement), suspended=True)
    if tenant.deletion_policy is model.DeletionPolicy.RETAIN:
        databases.retain_tenant(cfg, dbs, plan)
        url = databases.data_url(cfg, dbs, plan)
        where = {
            "placement": plan.placement.value,
            "database": (url or "").rsplit("/", 1)[-1],
            "schema": plan.schema,
            "tenantKey": plan.tenant_key,
        }
        return (
            f"retained the tenant's data ({plan.placement} in "
            f"{where['database']}/{plan.schema}); logins stopped",
            {"retainedData": where},
        )
    recorded: dict[str, Any] = {}
    if tenant.deletion_policy is model.DeletionPolicy.SNAPSHOT:
        url = databases.data_url(cfg, dbs, plan)
        if url is not None:
            name = f"{tenant.name}-{tenant.uid[:8]}"
            manifest = snapshots.dump(url, plan, cfg.snapshot_dir, name)
            recorded["snapshot"] = {"file": manifest["file"], "rows": manifest["rows"]}
    databases.delete_tenant(cfg, dbs, plan)
    what = f"snapshot {recorded['snapshot']['file']} written, then " if recorded else ""
    return f"{what}deleted the tenant's data ({plan.placement}) and role {plan.role}", recorded
