"""The kopf handlers: thin registrations that call `reconcile` and report what it found.

Run with `kopf run -m tenantry_operator.handlers`. The operator is level-triggered: a Tenant is
reconciled on create, update and operator start, and again by the convergence loop
(`schedule`, one thread for all Tenants) whenever it is due: soon after a reconcile that must
be tried again, at once after a child it owns changed (its namespace's objects, Deployment,
Service, Secrets: they are watched and mapped back to their Tenant), and otherwise every
`resync_interval` seconds less a random jitter, so tenants spread out. Any reconcile pushes the
next resync back (idle-aware), and one lock per Tenant keeps two reconciles of it from running
at once. Nothing waits on kopf's retries, so a lost retry cannot leave a tenant unconverged.

A Tier change stamps the Tier's revision on its Tenants so each re-reconciles; deletion runs
behind a finalizer, so it completes even if the operator was down when the Tenant was deleted.
A Tenant deleted because its CRD is being deleted is never offboarded: `keeping` keeps its
namespace and data for a re-created Tenant, then its finalizer is released. Beside kopf, the
start-up handler starts three threads: the convergence loop, the servers catalog's refresh
and the backup timer (`backups`).
A handler turns an outcome into the status patch, Events and metrics, through `apply`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.rest import ApiException

from tenantry_core import resources, tracing
from tenantry_operator import (
    apply,
    backups,
    conditions,
    keeping,
    metrics,
    movers,
    provisioner,
    provisioners,
    reconcile,
    schedule,
    settings,
    status,
)

KOPF_PREFIX = "kopf.tenantry.dev"
RETRY = schedule.RETRY  # seconds before an unexpected handler error is retried
SWEEP_EVERY, SWEEP_LIMIT = 1.0, 300.0  # seconds: releasing Tenants while their CRD is deleted
SERVERS_EVERY = 60.0  # seconds between two refreshes of `tenantry.servers`
log = logging.getLogger(__name__)
# What a Tenant owns and the operator watches (group, version, plural), all labelled as ours.
CHILDREN = (
    ("", "v1", "namespaces"),
    ("", "v1", "resourcequotas"),
    ("", "v1", "limitranges"),
    ("", "v1", "serviceaccounts"),
    ("", "v1", "secrets"),
    ("", "v1", "services"),
    ("networking.k8s.io", "v1", "networkpolicies"),
    ("rbac.authorization.k8s.io", "v1", "roles"),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"),
    ("apps", "v1", "deployments"),
)


@functools.cache
def config() -> settings.OperatorSettings:
    return settings.OperatorSettings()


@functools.cache
def silo_servers() -> tuple[provisioner.Server, ...]:
    return provisioner.declared(config().silo_urls)


@functools.cache
def silo_databases() -> provisioner.DatabaseProvisioner:
    servers = provisioner.ServerListProvisioner(silo_servers(), cordoned=config().cordoned_servers)
    return provisioners.ByTier(servers, config())


def keep_servers() -> None:
    """Refresh the catalog of servers' figures every SERVERS_EVERY seconds, for as long as the
    operator runs (a daemon thread)."""
    while True:
        time.sleep(SERVERS_EVERY)
        try:
            reconcile.refresh_servers(config(), silo_servers())
        except reconcile.Unavailable as exc:
            log.warning("the catalog of servers was not refreshed: %s", exc)


SCHEDULE = schedule.Schedule()


class KopfLogs(logging.Filter):
    """kopf logs a handler's TemporaryError at ERROR: a retry it was asked for is a WARNING.
    It also logs every child event the operator watches: those succeed silently."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno == logging.INFO and message.startswith("Handler 'child-"):
            return False
        if record.levelno == logging.ERROR and "failed temporarily" in message:
            record.levelno, record.levelname = (
                logging.WARNING,
                logging.getLevelName(logging.WARNING),
            )
        return True


def tenant_of(child: Mapping[str, Any]) -> str | None:
    """The name of the Tenant (of any version of our group) that owns `child`, if one does."""
    for ref in (child.get("metadata") or {}).get("ownerReferences") or []:
        group = str(ref.get("apiVersion", "")).partition("/")[0]
        if ref.get("kind") == resources.TENANT_KIND and group == resources.GROUP:
            return str(ref.get("name"))
    return None


@kopf.on.startup()
def startup(
    settings: kopf.OperatorSettings, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any
) -> None:
    for name in ("kopf.objects", "kopf.activities.startup"):
        logging.getLogger(name).addFilter(KopfLogs())
    tracing.configure(tracing.OPERATOR)  # reconciles continue their Tenant's trace (`traces`)
    tracing.tag_records()  # log lines of a reconcile carry its trace_id
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
    movers.MOVERS.notify = SCHEDULE.soon  # a move that ended: reconcile its Tenant at once
    try:
        reconcile.prepare_platform(config(), silo_servers())
    except reconcile.Unavailable as exc:
        raise kopf.TemporaryError(f"pool database unavailable: {exc}", delay=2) from exc
    logger.info(
        "pool database %s and pool shards %s are ready",
        config().pool_database,
        ", ".join(config().shard_names),
    )
    threading.Thread(target=keep_servers, daemon=True).start()
    # A peer of kopf's peering starts paused (`--peering`: mandatory) until it is the active one.
    peering = schedule.Peering(
        paused=settings.peering.mandatory and not settings.peering.standalone
    )
    schedule.Peering.follow(peering)
    threading.Thread(
        target=schedule.run_forever,
        args=(SCHEDULE, functools.partial(converge, wait=False)),
        kwargs={"active": peering.active},
        name="resync",
        daemon=True,
    ).start()
    threading.Thread(
        target=backups.keep_backing_up,
        args=(config(), silo_databases),
        kwargs={"active": peering.active},
        daemon=True,
    ).start()
    try:
        metrics.serve(config().metrics_port, config().metrics_address)
    except OSError as exc:  # a busy port must not stop reconciliation
        logger.warning("metrics not served on port %s: %s", config().metrics_port, exc)


@kopf.index(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL)
def tenants_by_tier(name: str, spec: kopf.Spec, **_: Any) -> dict[str, str]:
    return {str(spec.get("tier", "")): name}


def converge(name: str, *, wait: bool, created: bool = False) -> None:
    """Reconcile the Tenant `name` as it is now (read under its lock: what an earlier reconcile
    wrote is seen), write its status, post its Events and say when it is next due. Without
    `wait`, a reconcile already running makes this one unnecessary; for its creation, one
    that already reconciled this generation does (`already_reconciled`)."""
    lock = SCHEDULE.lock(name)
    if not lock.acquire(blocking=wait):
        return
    try:
        body = apply.get(resources.API_VERSION, resources.TENANT_KIND, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return  # offboarding is delete_tenant's; re-creating children now would race it
        if created and already_reconciled(body):
            return  # kopf offered the creation again; the loop keeps the Tenant converged
        with metrics.RECONCILE_SECONDS.time():
            try:
                outcome = reconcile.reconcile_tenant(body, cfg=config(), dbs=silo_databases())
            except Exception:
                metrics.RECONCILES.labels(result="error").inc()
                SCHEDULE.after(name, RETRY)
                raise
        _report(body, outcome)
        cfg = config()
        SCHEDULE.after(
            name, SCHEDULE.delay(outcome.retry_in, cfg.resync_interval, cfg.resync_jitter)
        )
    finally:
        lock.release()


def _report(body: Mapping[str, Any], outcome: reconcile.Outcome) -> None:
    """The Events first, then the status that announces them, then the metrics."""
    name = body["metadata"]["name"]
    for event in outcome.events:
        _post(body, event)
    try:
        apply.patch_status(name, outcome.new_status)
    except ApiException as exc:
        if exc.status == 404:
            return  # deleted meanwhile
        raise
    metrics.RECONCILES.labels(result="retry" if outcome.retry_in is not None else "done").inc()
    metrics.observe(
        name,
        tier=str((body.get("spec") or {}).get("tier", "")),
        created=body["metadata"].get("creationTimestamp"),
        status=outcome.new_status,
    )


def _post(body: Mapping[str, Any], event: conditions.Event) -> None:
    """Post the Event; a Warning also goes to the log (for SREs who read logs, not Events)."""
    apply.post_event(body, event)
    metrics.EVENTS.labels(type=event.type, reason=event.reason).inc()
    if event.type == "Warning":
        log.warning("tenant %s: %s: %s", body["metadata"]["name"], event.reason, event.message)


# backoff: an unexpected error is retried in seconds, not kopf's default minute.
@kopf.on.resume(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, backoff=RETRY)
@kopf.on.create(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, backoff=RETRY)
@kopf.on.update(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, backoff=RETRY)
def reconcile_tenant(name: str, reason: str, **_: Any) -> None:
    cfg = config()
    SCHEDULE.start(name, SCHEDULE.delay(None, cfg.resync_interval, cfg.resync_jitter))
    converge(name, wait=True, created=reason == kopf.Reason.CREATE)


def already_reconciled(body: Mapping[str, Any]) -> bool:
    """Whether a reconcile already wrote the status of this generation of the Tenant: in a
    burst kopf offers many a Tenant's creation twice (its own bookkeeping lags), and the second
    offer would reconcile the new Tenant again."""
    observed = (body.get("status") or {}).get("observedGeneration")
    return observed is not None and observed == body["metadata"].get("generation")


async def child_changed(event: Mapping[str, Any], body: kopf.Body, **_: Any) -> None:
    """A child changed, was deleted or was created: its Tenant is due soon. (Async: it runs
    on the event loop, never waiting for a worker thread a reconcile holds.) Its version is
    noted, so that a resync that would apply it unchanged skips it (`apply.observed`)."""
    apply.observed(body, deleted=event.get("type") == "DELETED")
    if event.get("type") is None:
        return  # the initial listing at start: every Tenant is reconciled then anyway
    tenant = tenant_of(body)
    if tenant is not None:
        SCHEDULE.soon(tenant)


for _group, _version, _plural in CHILDREN:
    kopf.on.event(
        _group,
        _version,
        _plural,
        id=f"child-{_plural}",
        labels={resources.LABEL_MANAGED_BY: resources.OPERATOR_FIELD_MANAGER},
    )(child_changed)


@kopf.on.delete(resources.GROUP, resources.VERSION, resources.TENANT_PLURAL, backoff=RETRY)
def delete_tenant(name: str, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    with SCHEDULE.lock(name):  # no reconcile of it is under way
        if keeping.crd_going():
            _keep(body)
            return
        patch.status.update(status.deleting())
        try:
            offboarded = reconcile.offboard_tenant(body, cfg=config(), dbs=silo_databases())
        except reconcile.Unavailable as exc:
            waits = conditions.Event("Warning", "OffboardingFailed", f"offboarding waits: {exc}")
            _post(body, waits)
            metrics.OFFBOARDS.labels(result="retry").inc()
            raise kopf.TemporaryError(str(exc), delay=10) from exc
    patch.status.update(status.deleting(offboarded))
    _post(body, conditions.Event("Normal", "Offboarded", offboarded.done))
    metrics.OFFBOARDS.labels(result="done").inc()
    metrics.forget_tenant(name)
    SCHEDULE.forget(name)


def _keep(body: Mapping[str, Any]) -> None:
    """The Tenant CRD is being deleted: keep the Tenant's namespace and data, never offboard."""
    name = body["metadata"]["name"]
    _post(body, conditions.Event("Normal", "DataKept", keeping.keep(body)))
    metrics.forget_tenant(name)
    SCHEDULE.forget(name)


@kopf.on.event(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    when=lambda name, **_: name == keeping.TENANT_CRD,
)
def tenant_crd_changed(body: kopf.Body, **_: Any) -> None:
    """While the Tenant CRD is being deleted, keep each deleted Tenant and release it: kopf
    stops serving Tenants once their CRD terminates, maybe before it handled each deletion."""
    deadline = time.monotonic() + SWEEP_LIMIT
    while body["metadata"].get("deletionTimestamp") and time.monotonic() < deadline:
        if not keeping.crd_exists():
            return
        for tenant in apply.list_objects(resources.API_VERSION, resources.TENANT_KIND):
            meta = tenant["metadata"]
            if meta.get("deletionTimestamp") and resources.FINALIZER in (
                meta.get("finalizers") or []
            ):
                with SCHEDULE.lock(meta["name"]):
                    _keep(tenant)
                    try:
                        keeping.release(tenant)
                    except ApiException as exc:  # changed or gone meanwhile: looked at again
                        log.info("tenant %s not released yet: %s", meta["name"], exc.reason)
        time.sleep(SWEEP_EVERY)


@kopf.on.resume(resources.GROUP, resources.VERSION, resources.TIER_PLURAL)
@kopf.on.create(resources.GROUP, resources.VERSION, resources.TIER_PLURAL)
@kopf.on.update(resources.GROUP, resources.VERSION, resources.TIER_PLURAL)
async def tier_changed(
    name: str,
    spec: kopf.Spec,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    tenants_by_tier: kopf.Index[str, str] | None = None,  # injected by kopf from the index
    **_: Any,
) -> None:
    """Publish the Tier's features for the app, and stamp its revision on each of its Tenants;
    each then re-reconciles itself. (The index is copied on the event loop, which updates it:
    read from a thread, a Tenant created meanwhile broke the iteration.)"""
    tenants = list(tenants_by_tier.get(name, [])) if tenants_by_tier is not None else []
    stamped = await asyncio.to_thread(
        reconcile.tier_changed, cfg=config(), tier=name, spec=spec, tenants=tenants
    )
    for tenant in stamped:
        logger.info("tier %s changed: tenant %s re-reconciles", name, tenant)


@kopf.on.delete(resources.GROUP, resources.VERSION, resources.TIER_PLURAL, optional=True)
def tier_deleted(name: str, **_: Any) -> None:
    reconcile.tier_deleted(cfg=config(), tier=name)
