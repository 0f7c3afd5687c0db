"""The kopf handlers: thin registrations that call `reconcile` and report what it found.

Run with `kopf run -m tenantry_operator.handlers`. Tenants reconcile on create, update and
operator start; a Tier change stamps the Tier's revision on its Tenants so each re-reconciles in
its own handler; deletion runs behind a finalizer, so it completes even if the operator was down
when the Tenant was deleted. A handler does no I/O of its own: it turns an outcome into the
status patch, Events, metrics and, when something must be retried, a `kopf.TemporaryError`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

import kopf

from tenantry_core import resources
from tenantry_operator import metrics, provisioner, provisioners, reconcile, settings, status

KOPF_PREFIX = "kopf.tenantry.dev"
RETRY = 5.0  # seconds before an unexpected handler error is retried


@functools.cache
def config() -> settings.OperatorSettings:
    return settings.OperatorSettings()


@functools.cache
def silo_databases() -> provisioner.DatabaseProvisioner:
    urls = config().silo_servers or [config().admin_url()]
    servers = provisioner.ServerListProvisioner([provisioner.Server.from_url(u) for u in urls])
    return provisioners.ByTier(servers, config())


@kopf.on.startup()
def startup(
    settings: kopf.OperatorSettings, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any
) -> None:
    settings.persistence.finalizer = resources.FINALIZER
    # kopf ignores every annotation under its own prefix when it diffs an object, so its
    # bookkeeping must not share a prefix with annotations that mean a change (tier-revision).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.execution.max_workers = 8
    try:
        reconcile.prepare_platform(config())
    except reconcile.Unavailable as exc:
        raise kopf.TemporaryError(f"pool database unavailable: {exc}", delay=2) from exc
    logger.info("pool database %s is ready", config().pool_database)
    try:
        metrics.serve(config().metrics_port, config().metrics_address)
    except OSError as exc:  # a busy port must not stop reconciliation
        logger.warning("metrics not served on port %s: %s", config().metrics_port, exc)


@kopf.index(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL)
def tenants_by_tier(name: str, spec: kopf.Spec, **_: Any) -> dict[str, str]:
    return {str(spec.get("tier", "")): name}


# backoff: an unexpected error is retried in seconds, not kopf's default minute.
@kopf.on.resume(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, backoff=RETRY)
@kopf.on.create(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, backoff=RETRY)
@kopf.on.update(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, backoff=RETRY)
def reconcile_tenant(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    if body.metadata.get("deletionTimestamp"):
        return  # offboarding is delete_tenant's; re-creating children now would race it
    with metrics.RECONCILE_SECONDS.time():
        try:
            outcome = reconcile.reconcile_tenant(body, cfg=config(), dbs=silo_databases())
        except Exception:
            metrics.RECONCILES.labels(result="error").inc()
            raise
    patch.status.update(outcome.new_status)
    metrics.RECONCILES.labels(result="retry" if outcome.retry_in is not None else "done").inc()
    metrics.observe_tenant(
        body.metadata["name"],
        str(outcome.new_status.get("phase", "Unknown")),
        outcome.new_status.get("placement"),
    )
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        metrics.EVENTS.labels(type=event.type, reason=event.reason).inc()
    if outcome.retry_in is not None:
        ready = next(c for c in outcome.new_status["conditions"] if c["type"] == "Ready")
        raise kopf.TemporaryError(f"{ready['reason']}: {ready['message']}", delay=outcome.retry_in)


@kopf.on.delete(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, backoff=RETRY)
def delete_tenant(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    patch.status.update(status.deleting())
    try:
        offboarded = reconcile.offboard_tenant(body, cfg=config(), dbs=silo_databases())
    except reconcile.Unavailable as exc:
        kopf.warn(body, reason="OffboardingFailed", message=f"offboarding waits: {exc}")
        metrics.OFFBOARDS.labels(result="retry").inc()
        raise kopf.TemporaryError(str(exc), delay=10) from exc
    patch.status.update(status.deleting(offboarded))
    kopf.info(body, reason="Offboarded", message=offboarded.done)
    metrics.OFFBOARDS.labels(result="done").inc()
    metrics.forget_tenant(body.metadata["name"])


@kopf.on.resume(resources.GROUP, resources.VERSION, resources.TIER_PLURAL)
@kopf.on.create(resources.GROUP, resources.VERSION, resources.TIER_PLURAL)
@kopf.on.update(resources.GROUP, resources.VERSION, resources.TIER_PLURAL)
def tier_changed(
    name: str,
    spec: kopf.Spec,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    tenants_by_tier: kopf.Index[str, str] | None = None,  # injected by kopf from the index
    **_: Any,
) -> None:
    """Publish the Tier's features for the app, and stamp its revision on each of its Tenants;
    each then re-reconciles itself."""
    tenants: Iterable[str] = tenants_by_tier.get(name, []) if tenants_by_tier is not None else []
    for tenant in reconcile.tier_changed(cfg=config(), tier=name, spec=spec, tenants=tenants):
        logger.info("tier %s changed: tenant %s re-reconciles", name, tenant)


@kopf.on.delete(resources.GROUP, resources.VERSION, resources.TIER_PLURAL, optional=True)
def tier_deleted(name: str, **_: Any) -> None:
    reconcile.tier_deleted(cfg=config(), tier=name)
