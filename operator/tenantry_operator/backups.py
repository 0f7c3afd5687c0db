"""Scheduled backups of each Tenant whose Tier has `spec.backup`: the operator's backup timer.

A thread of its own (`handlers` starts `keep_backing_up`; never kopf's workers) looks every TICK
seconds at every Tenant of a Tier that has `spec.backup` (listed by a field selector on
`spec.tier`, never the whole fleet): when its slot's backup (`backup_plan`) is not in the
snapshot store (`stores`: the directory or a bucket) yet, it takes one with `snapshots` (the
same archive and manifest as a snapshot, plus the slot and the schedule), from wherever the
tenant is placed (pool, bridge or silo, on any server); then it prunes the oldest beyond the
Tier's `retain`, never the one a live restore is loading. What it finds goes into the Tenant's
status (`lastBackup`, `backups`, newest last) and the per-tenant backup metrics; a failure into
a Warning Event (BackupFailed). A backup already written for a slot is never taken again (the name
is the slot's), so an operator killed mid-backup just takes it on its next look. A tenant that
is being deleted, is not placed yet or is moving is skipped until a later slot.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from kubernetes.client.rest import ApiException

from tenantry_core import resources
from tenantry_operator import (
    apply,
    backup_plan,
    conditions,
    databases,
    metrics,
    migration_state,
    model,
    planning,
    postgres,
    provisioner,
    settings,
    snapshots,
    stores,
)

TICK = 1.0  # seconds between two looks at whether a tenant's backup is due
AFTER_FAILURE = 30.0  # seconds a tenant whose backup failed waits before the next try
SCHEDULE_INVALID = "BackupScheduleInvalid"
FAILED = "BackupFailed"
log = logging.getLogger(__name__)
_warned: set[tuple[str, str]] = set()  # (tenant, schedule) told about a bad schedule already
_failed: dict[str, float] = {}  # tenant: when (time.monotonic) its last backup failed
_swept: set[str] = set()  # the Tenants the last sweep looked at (their backup metrics)


def summary(name: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A backup's line in `status.backups` and `status.lastBackup`."""
    return {
        "name": f"{name}.dump",
        "time": str(manifest.get("created", "")),
        "rows": sum(int(n) for n in dict(manifest.get("rows") or {}).values()),
        "sizeBytes": int(manifest.get("sizeBytes") or 0),
    }


def in_use(status: Mapping[str, Any]) -> set[str]:
    """The backups a live restore of the tenant is loading (pruning keeps them)."""
    state = migration_state.stored(status)
    if state is None or not state.running or not state.backup:
        return set()
    return {state.backup.removesuffix(".dump")}


def back_up(
    body: Mapping[str, Any],
    tier: Mapping[str, Any] | None,
    *,
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
    now: dt.datetime,
) -> str:
    """Take the Tenant's backup if one is due, prune, report; returns the backup taken ("")."""
    meta, state = body["metadata"], dict(body.get("status") or {})
    key = str(meta["name"])
    if meta.get("deletionTimestamp") or tier is None:
        return ""
    try:
        schedule = backup_plan.Schedule.from_spec(dict(tier.get("spec") or {}))
    except backup_plan.InvalidSchedule as exc:
        _warn_once(body, str((tier.get("spec") or {}).get("backup")), str(exc))
        return ""
    if schedule is None:
        metrics.forget_backups(key)
        return ""
    tenant = model.Tenant.from_body(body)
    prefix = backup_plan.prefix(tenant.tenant_key, tenant.uid)
    store = stores.of(cfg)
    taken = snapshots.listed(store, prefix)
    wanted = backup_plan.due(schedule.every, taken, tenant.tenant_key, tenant.uid, now)
    running = migration_state.stored(state)
    if wanted and tenant.placement is not None and not (running and running.running):
        plan = planning.plan_database(tenant, tenant.placement, server=tenant.server)
        url = databases.data_url(cfg, dbs, plan)
        if url is not None:
            slot = backup_plan.slot_start(schedule.every, now).isoformat()
            extra = {"backup": {"slot": slot, "every": schedule.every}, "server": plan.server}
            taken[wanted] = snapshots.dump(
                url, plan, store, wanted, uid=tenant.uid, extra=extra
            )
            log.info("tenant %s: backup %s taken", key, wanted)
    for old in backup_plan.to_prune(list(taken), schedule.retain, in_use(state)):
        snapshots.remove(store, old)
        del taken[old]
    kept = [summary(n, taken[n]) for n in sorted(taken)]
    _report(key, kept, state, schedule.every)
    return wanted if wanted in taken else ""


def _report(key: str, kept: list[dict[str, Any]], state: Mapping[str, Any], every: int) -> None:
    last = kept[-1] if kept else None
    if state.get("backups") != kept or state.get("lastBackup") != last:
        apply.patch_status(key, {"backups": kept, "lastBackup": last})
    when = None
    if last is not None:
        when = dt.datetime.fromisoformat(last["time"]).timestamp()
    metrics.observe_backups(key, every=every, last=when)


def _warn_once(body: Mapping[str, Any], schedule: str, message: str) -> None:
    name = str(body["metadata"]["name"])
    if (name, schedule) in _warned:
        return
    _warned.add((name, schedule))
    log.warning("tenant %s: %s", name, message)
    apply.post_event(body, conditions.Event("Warning", SCHEDULE_INVALID, message))


def sweep(
    *, cfg: settings.OperatorSettings, dbs: provisioner.DatabaseProvisioner, now: dt.datetime
) -> list[str]:
    """Back up every Tenant that is due; returns the backups taken. A tenant whose backup
    fails gets a Warning Event and is tried again AFTER_FAILURE seconds later."""
    tiers = {
        str(t["metadata"]["name"]): t
        for t in apply.list_objects(resources.API_VERSION, resources.TIER_KIND)
        if (t.get("spec") or {}).get("backup")
    }
    # Only the Tenants of Tiers that are backed up (a field selector on spec.tier): a timer
    # that listed every Tenant each second cost the operator more than all else in a quiet fleet.
    bodies = [
        body
        for name in sorted(tiers)
        for body in apply.list_objects(
            resources.API_VERSION, resources.TENANT_KIND, field_selector=f"spec.tier={name}"
        )
    ]
    for gone in _swept - {str(body["metadata"]["name"]) for body in bodies}:
        metrics.forget_backups(gone)  # its Tier is no longer backed up, or it left the Tier
    _swept.clear()
    _swept.update(str(body["metadata"]["name"]) for body in bodies)
    taken = []
    for body in bodies:
        key = str(body["metadata"]["name"])
        if time.monotonic() - _failed.get(key, -AFTER_FAILURE) < AFTER_FAILURE:
            continue
        tier = tiers.get(str((body.get("spec") or {}).get("tier", "")))
        try:
            done = back_up(body, tier, cfg=cfg, dbs=dbs, now=now)
        except (
            snapshots.SnapshotError,
            postgres.DatabaseUnavailable,
            provisioner.ProvisionerUnavailable,
            psycopg.Error,
            OSError,
        ) as exc:
            _failed[key] = time.monotonic()
            log.warning("tenant %s: backup failed: %s", key, exc)
            public = "the scheduled backup failed; the operator's log has the details"
            apply.post_event(body, conditions.Event("Warning", FAILED, public))
            continue
        except ApiException as exc:
            if exc.status != 404:  # a Tenant deleted meanwhile has nothing to report
                raise
            continue
        taken += [done] if done else []
    return taken


def keep_backing_up(
    cfg: settings.OperatorSettings,
    dbs: Callable[[], provisioner.DatabaseProvisioner],
    stop: threading.Event | None = None,
    active: Callable[[], bool] = lambda: True,
) -> None:
    """Look every TICK seconds for due backups, for as long as the operator runs, while it is
    `active` (not a standby in kopf's peering)."""
    stop = stop or threading.Event()
    while not stop.wait(TICK):
        if not active():
            continue
        try:
            sweep(cfg=cfg, dbs=dbs(), now=dt.datetime.now(dt.UTC))
        except Exception:  # the timer goes on: the next look tries again
            log.exception("the backup timer's look failed")
