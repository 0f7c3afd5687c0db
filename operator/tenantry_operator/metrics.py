"""The operator's Prometheus metrics, served on `TENANTRY_METRICS_PORT` (0: not served).

For SREs next to `kubectl get tenants`, and for the dashboard and alerts in
`deploy/components/monitoring`:

- the fleet: tenants by tier, phase and placement; tenants not Ready by reason; how
  reconciliations and offboardings end and how long they (and each of their steps) take;
  time from creation to Ready
  and migration durations as histograms (the SLO); migrations by how they ended; every Event
  the operator posts by type and reason;
- per tenant, one series each (bounded by the tenants, removed when a tenant is offboarded):
  whether its last reconcile left it healthy, when that was, how long it took to become Ready,
  how long its writes waited at its last migration's switch, and when its newest scheduled
  backup was taken and how often its Tier asks for one (`observe_backups`, by `backups`).

Fed by the kopf handlers with each reconcile's resulting status (`observe`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections import Counter as Tally
from collections.abc import Mapping
from typing import Any

import prometheus_client as prom

RECONCILES = prom.Counter(
    "tenantry_reconciles_total", "Tenant reconciliations by how they ended", ["result"]
)
RECONCILE_SECONDS = prom.Histogram(
    "tenantry_reconcile_seconds",
    "Time one Tenant reconciliation took",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
STEP_SECONDS = prom.Histogram(
    "tenantry_reconcile_step_seconds",
    "Time each step of a Tenant reconciliation took",
    ["step"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OFFBOARDS = prom.Counter(
    "tenantry_offboards_total", "Tenant offboardings by how they ended", ["result"]
)
EVENTS = prom.Counter(
    "tenantry_events_total", "Events posted on Tenants by type and reason", ["type", "reason"]
)
TENANTS = prom.Gauge(
    "tenantry_tenants", "Tenants by tier, phase and placement", ["tier", "phase", "placement"]
)
NOT_READY = prom.Gauge(
    "tenantry_tenants_not_ready",
    "Tenants whose Ready condition is not True, by its reason",
    ["reason"],
)
TIME_TO_READY = prom.Histogram(
    "tenantry_time_to_ready_seconds",
    "Time from a Tenant's creation to its first Ready (each tenant once per operator start)",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
MIGRATIONS = prom.Counter(
    "tenantry_migrations_total", "Live migrations by how they ended", ["result"]
)
MIGRATION_SECONDS = prom.Histogram(
    "tenantry_migration_seconds",
    "Time a live migration took, from its start to Completed",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
TENANT_OK = prom.Gauge(
    "tenantry_tenant_reconcile_ok",
    "1 if the tenant's last reconcile left it Ready or on its way, 0 if Failed",
    ["tenant"],
)
TENANT_RECONCILED = prom.Gauge(
    "tenantry_tenant_last_reconcile_timestamp_seconds",
    "When the tenant was last reconciled (Unix time)",
    ["tenant"],
)
TENANT_TIME_TO_READY = prom.Gauge(
    "tenantry_tenant_time_to_ready_seconds", "How long the tenant took to become Ready", ["tenant"]
)
TENANT_WRITE_BLOCK = prom.Gauge(
    "tenantry_tenant_migration_write_block_seconds",
    "How long the tenant's writes waited at its last migration's switch",
    ["tenant"],
)
TENANT_LAST_BACKUP = prom.Gauge(
    "tenantry_tenant_last_backup_timestamp_seconds",
    "When the tenant's newest scheduled backup was taken (Unix time)",
    ["tenant"],
)
TENANT_BACKUP_INTERVAL = prom.Gauge(
    "tenantry_tenant_backup_interval_seconds",
    "How often the tenant's Tier asks for a scheduled backup",
    ["tenant"],
)
BACKUPS = (TENANT_LAST_BACKUP, TENANT_BACKUP_INTERVAL)
PER_TENANT = (
    TENANT_OK,
    TENANT_RECONCILED,
    TENANT_TIME_TO_READY,
    TENANT_WRITE_BLOCK,
    *BACKUPS,
)
FINAL_MIGRATION_PHASES = ("Completed", "Failed")

_lock = threading.Lock()
_tenants: dict[str, tuple[str, str, str, str | None]] = {}  # tier, phase, placement, not Ready
_ready_seen: set[str] = set()
_migrations_seen: set[tuple[str, str]] = set()  # (tenant, started) of finished migrations


def _when(stamp: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None


def _ready(status: Mapping[str, Any]) -> Mapping[str, Any]:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return dict(condition)
    return {}


def observe(
    name: str,
    *,
    tier: str,
    created: str | None,
    status: Mapping[str, Any],
    now: dt.datetime | None = None,
) -> None:
    """Record what a reconcile of the tenant `name` left: its `status`."""
    now = now or dt.datetime.now(dt.UTC)
    phase = str(status.get("phase", "Unknown"))
    ready = _ready(status)
    not_ready = None if ready.get("status") == "True" else str(ready.get("reason") or "Unknown")
    with _lock:
        _tenants[name] = (tier, phase, str(status.get("placement") or "none"), not_ready)
        _publish()
        TENANT_OK.labels(name).set(0 if phase == "Failed" else 1)
        TENANT_RECONCILED.labels(name).set(now.timestamp())
        became, born = _when(ready.get("lastTransitionTime")), _when(created)
        if not_ready is None and name not in _ready_seen and became and born:
            _ready_seen.add(name)
            took = max(0.0, (became - born).total_seconds())
            TIME_TO_READY.observe(took)
            TENANT_TIME_TO_READY.labels(name).set(took)
        _observe_migration(name, dict(status.get("migration") or {}), now)


def _observe_migration(name: str, migration: Mapping[str, Any], now: dt.datetime) -> None:
    phase, started = migration.get("phase"), migration.get("started")
    if phase not in FINAL_MIGRATION_PHASES or not started or (name, started) in _migrations_seen:
        return
    _migrations_seen.add((name, str(started)))
    MIGRATIONS.labels(result=phase).inc()
    began = _when(started)
    if phase == "Completed" and began:
        MIGRATION_SECONDS.observe(max(0.0, (now - began).total_seconds()))
    if migration.get("writeBlockMs") is not None:
        TENANT_WRITE_BLOCK.labels(name).set(int(migration["writeBlockMs"]) / 1000)


def forget_tenant(name: str) -> None:
    """An offboarded tenant leaves the fleet's series and has none of its own."""
    with _lock:
        _tenants.pop(name, None)
        _ready_seen.discard(name)
        _publish()
        for gauge in PER_TENANT:
            with contextlib.suppress(KeyError):
                gauge.remove(name)


def observe_backups(name: str, *, every: int, last: float | None) -> None:
    """What the backup timer found for the tenant `name`: its Tier's interval, and when its
    newest backup was taken (None: none yet)."""
    TENANT_BACKUP_INTERVAL.labels(name).set(every)
    if last is not None:
        TENANT_LAST_BACKUP.labels(name).set(last)


def forget_backups(name: str) -> None:
    """A tenant whose Tier takes no backups has no backup series."""
    for gauge in BACKUPS:
        with contextlib.suppress(KeyError):
            gauge.remove(name)


def _publish() -> None:
    TENANTS.clear()
    for (tier, phase, placement), count in Tally(t[:3] for t in _tenants.values()).items():
        TENANTS.labels(tier=tier, phase=phase, placement=placement).set(count)
    NOT_READY.clear()
    for reason, count in Tally(t[3] for t in _tenants.values() if t[3]).items():
        NOT_READY.labels(reason=reason).set(count)


def step(name: str) -> Any:
    """Time a reconcile step: `with metrics.step("namespace"): ...`."""
    return STEP_SECONDS.labels(step=name).time()


def serve(port: int, address: str) -> None:
    """Serve /metrics on `address:port` in a background thread (port 0: do nothing)."""
    if port:
        prom.start_http_server(port, addr=address)
