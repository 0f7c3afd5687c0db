"""The kopf handlers: thin registrations that call `reconcile` and report what it found.

Run with `kopf run -m tenantry_operator.handlers`. Tenants reconcile on create, update and
operator start; a Tier change stamps the Tier's revision on its Tenants so each re-reconciles in
its own handler; deletion runs behind a finalizer, so it completes even if the operator was down
when the Tenant was deleted.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import kopf

from tenantry_operator import apply, model, pooldb, reconcile, settings


@functools.cache
def config() -> settings.OperatorSettings:
    return settings.OperatorSettings()  # type: ignore[call-arg]


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, logger: logging.Logger, **_: Any) -> None:
    settings.persistence.finalizer = "tenantry.dev/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="tenantry.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="tenantry.dev", key="last-handled-configuration")
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.execution.max_workers = 8
    try:
        pooldb.ensure_platform(config())
    except pooldb.DatabaseUnavailable as exc:
        raise kopf.TemporaryError(f"pool database unavailable: {exc}", delay=2) from exc
    logger.info("pool database %s is ready", config().pool_database)


@kopf.index(model.GROUP, model.VERSION, "tenants")
def tenants_by_tier(name: str, spec: kopf.Spec, **_: Any) -> dict[str, str]:
    return {str(spec.get("tier", "")): name}


@kopf.on.resume(model.GROUP, model.VERSION, "tenants")
@kopf.on.create(model.GROUP, model.VERSION, "tenants")
@kopf.on.update(model.GROUP, model.VERSION, "tenants")
def reconcile_tenant(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    outcome = reconcile.reconcile_tenant(body, config())
    patch.status.update(outcome.status)
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    if outcome.retry_in is not None:
        ready = next(c for c in outcome.status["conditions"] if c["type"] == "Ready")
        raise kopf.TemporaryError(f"{ready['reason']}: {ready['message']}", delay=outcome.retry_in)


@kopf.on.delete(model.GROUP, model.VERSION, "tenants")
def delete_tenant(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    patch.status["phase"] = "Deleting"
    try:
        done = reconcile.offboard_tenant(body, config())
    except pooldb.DatabaseUnavailable as exc:
        kopf.warn(body, reason="DatabaseUnavailable", message=f"offboarding waits: {exc}")
        raise kopf.TemporaryError(str(exc), delay=10) from exc
    kopf.info(body, reason="Offboarded", message=done)


@kopf.on.resume(model.GROUP, model.VERSION, "tiers")
@kopf.on.create(model.GROUP, model.VERSION, "tiers")
@kopf.on.update(model.GROUP, model.VERSION, "tiers")
def tier_changed(name: str, spec: kopf.Spec, tenants_by_tier: kopf.Index[str, str],
                 logger: logging.Logger, **_: Any) -> None:
    """Stamp the Tier's revision on each of its Tenants; each then re-reconciles itself."""
    revision = model.revision_of(dict(spec))
    for tenant in tenants_by_tier.get(name, []):
        current = apply.get(model.API_VERSION, "Tenant", tenant)
        annotations = ((current or {}).get("metadata") or {}).get("annotations") or {}
        if current is None or annotations.get(model.ANNOTATION_TIER_REVISION) == revision:
            continue
        apply.merge_patch(model.API_VERSION, "Tenant", tenant, {
            "metadata": {"annotations": {model.ANNOTATION_TIER_REVISION: revision}}})
        logger.info("tier %s changed: tenant %s re-reconciles", name, tenant)
