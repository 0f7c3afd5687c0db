"""Reconciling one Tenant: an ordered list of idempotent ensure-steps, then computed status.

Called by the kopf handlers. Each step may stop the sequence early (a missing Tier, a refused
object, an unreachable database); the outcome is an `Outcome` the handler turns into a status
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

from tenantry_operator import apply, model, planning, pooldb, settings, status


@dataclass
class Outcome:
    new_status: dict[str, Any]
    events: list[status.Event] = field(default_factory=list)
    retry_in: float | None = None  # seconds; set when a failed step should be tried again


def _load_tier(name: str) -> model.Tier | None:
    body = apply.get(model.API_VERSION, "Tier", name)
    return model.Tier.from_body(body) if body else None


def ensure_namespace(body: kopf.Body, tenant: model.Tenant, tier: model.Tier) -> status.StepResult:
    objects = planning.plan_namespace(tenant, tier)
    kopf.adopt(objects, owner=body)
    try:
        apply.apply(objects)
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


def ensure_pool_database(
    body: kopf.Body, tenant: model.Tenant, tier: model.Tier, cfg: settings.OperatorSettings
) -> status.StepResult:
    """Credentials first (the Secret is the source of truth for the password), then the role."""
    plan = planning.plan_pool_database(tenant, tier)
    endpoint = planning.Endpoint(cfg.public_host, cfg.public_port, cfg.pool_database)
    try:
        stored = apply.read_secret(tenant.namespace, planning.SECRET_NAME) or {}
        password = stored.get("password") or secrets.token_urlsafe(24)
        secret = planning.plan_secret(tenant, tier, plan, endpoint, password)
        kopf.adopt(secret, owner=body)
        apply.apply([secret])
        pooldb.ensure_tenant(cfg, plan, password)
    except apply.ApplyError as exc:
        return status.StepResult(False, status.Reason.APPLY_FAILED, str(exc))
    except pooldb.DatabaseUnavailable as exc:
        return status.StepResult(False, status.Reason.DATABASE_UNAVAILABLE, str(exc))
    except psycopg.Error as exc:
        return status.StepResult(False, status.Reason.DATABASE_FAILED, str(exc).strip())
    return status.StepResult(
        True, status.Reason.PROVISIONED, f"role {plan.role} and routing row in {cfg.pool_database}"
    )


def reconcile_tenant(
    body: kopf.Body, cfg: settings.OperatorSettings, now: dt.datetime | None = None
) -> Outcome:
    tenant = model.Tenant.from_body(body)
    previous = list((body.get("status") or {}).get("conditions") or [])
    observation = status.Observation(generation=tenant.generation)
    extra: dict[str, Any] = {}

    tier = _load_tier(tenant.tier)
    if tier is None:
        observation = replace(
            observation,
            blocked=status.StepResult(
                False, status.Reason.TIER_NOT_FOUND, f"Tier {tenant.tier!r} does not exist"
            ),
        )
    elif tier.isolation is not model.Isolation.POOL:
        observation = replace(
            observation,
            blocked=status.StepResult(
                False,
                status.Reason.ISOLATION_NOT_SUPPORTED,
                f"Tier {tier.name!r} uses {tier.isolation} isolation, which is not supported yet",
            ),
        )
    else:
        extra["tierRevision"] = tier.revision
        extra["namespace"] = tenant.namespace
        ns_step = ensure_namespace(body, tenant, tier)
        observation = replace(observation, namespace=ns_step)
        if ns_step.ok:
            db_step = ensure_pool_database(body, tenant, tier, cfg)
            observation = replace(
                observation, database=db_step, placement=model.Isolation.POOL.value
            )
            if db_step.ok:
                plan = planning.plan_pool_database(tenant, tier)
                endpoint = planning.Endpoint(cfg.public_host, cfg.public_port, cfg.pool_database)
                extra["database"] = planning.database_status(tenant, plan, endpoint)

    new_status = {**status.status(observation, previous, now or dt.datetime.now(dt.UTC)), **extra}
    failed = [
        s
        for s in (observation.namespace, observation.database)
        if not s.ok
        and s.reason
        in (
            status.Reason.APPLY_FAILED,
            status.Reason.DATABASE_FAILED,
            status.Reason.DATABASE_UNAVAILABLE,
            status.Reason.NAMESPACE_NOT_READY,
        )
    ]
    return Outcome(
        new_status=new_status,
        events=status.events(previous, new_status["conditions"]),
        retry_in=(2.0 if failed[0].reason is status.Reason.NAMESPACE_NOT_READY else 15.0)
        if failed
        else None,
    )


def offboard_tenant(body: Mapping[str, Any], cfg: settings.OperatorSettings) -> str:
    """Carry out the tenant's deletionPolicy on its data, then remove its namespace (owner
    references would too, but not before the garbage collector notices). Returns what was done."""
    tenant = model.Tenant.from_body(body)
    done = _offboard_data(body, tenant, cfg)
    apply.delete("v1", "Namespace", tenant.namespace)
    return done


def _offboard_data(
    body: Mapping[str, Any], tenant: model.Tenant, cfg: settings.OperatorSettings
) -> str:
    placement = (body.get("status") or {}).get("placement")
    if placement != model.Isolation.POOL.value:
        return "no data was provisioned"
    plan = planning.PoolDatabasePlan(
        tenant_key=tenant.key, role=planning.pool_role(tenant), tier=tenant.tier, suspended=True
    )
    if tenant.deletion_policy is model.DeletionPolicy.DELETE:
        pooldb.delete_tenant(cfg, plan)
        return f"deleted the tenant's rows and role {plan.role} from {cfg.pool_database}"
    pooldb.retain_tenant(cfg, plan)
    return (
        f"retained the tenant's rows in {cfg.pool_database} (tenant_id={tenant.key}); "
        "logins stopped"
    )
