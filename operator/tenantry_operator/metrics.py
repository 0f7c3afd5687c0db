"""The operator's Prometheus metrics, served on `TENANTRY_METRICS_PORT` (0: not served).

For SREs next to `kubectl get tenants`: how many tenants are in each phase and placement, how
reconciliations and offboardings end and how long they take, and every Event the operator
posts by type and reason (migrations, failures, suspensions). Fed by the kopf handlers.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally

import prometheus_client as prom

RECONCILES = prom.Counter(
    "tenantry_reconciles_total", "Tenant reconciliations by how they ended", ["result"]
)
RECONCILE_SECONDS = prom.Histogram(
    "tenantry_reconcile_seconds",
    "Time one Tenant reconciliation took",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OFFBOARDS = prom.Counter(
    "tenantry_offboards_total", "Tenant offboardings by how they ended", ["result"]
)
EVENTS = prom.Counter(
    "tenantry_events_total", "Events posted on Tenants by type and reason", ["type", "reason"]
)
TENANTS = prom.Gauge("tenantry_tenants", "Tenants by phase and placement", ["phase", "placement"])

_lock = threading.Lock()
_tenants: dict[str, tuple[str, str]] = {}


def observe_tenant(name: str, phase: str, placement: str | None) -> None:
    """Record a tenant's phase and placement after a reconciliation."""
    with _lock:
        _tenants[name] = (phase, placement or "none")
        _publish()


def forget_tenant(name: str) -> None:
    with _lock:
        _tenants.pop(name, None)
        _publish()


def _publish() -> None:
    TENANTS.clear()
    for (phase, placement), count in Tally(_tenants.values()).items():
        TENANTS.labels(phase=phase, placement=placement).set(count)


def serve(port: int, address: str) -> None:
    """Serve /metrics on `address:port` in a background thread (port 0: do nothing)."""
    if port:
        prom.start_http_server(port, addr=address)
