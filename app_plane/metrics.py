"""The app plane's Prometheus metrics, served at `/metrics` (prometheus-fastapi-instrumentator).

Beside the instrumentator's own series (by route, method and status), two per tenant, with few
labels so their number grows only with the tenants: requests by tenant and status class, and a
latency histogram by tenant. A request that names no tenant (unauthenticated, health) counts
only in the instrumentator's series. Used by app_plane.main.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from prometheus_fastapi_instrumentator import Instrumentator, metrics

REQUESTS = Counter(
    "tenantry_app_tenant_requests_total",
    "App-plane requests of each tenant, by status class (2xx, 4xx, 5xx).",
    ["tenant", "code"],
)
LATENCY = Histogram(
    "tenantry_app_tenant_request_seconds",
    "App-plane request latency of each tenant.",
    ["tenant"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
STATE_KEY = "tenant_key"  # request.state attribute the caller's dependency sets


def _observe(info: metrics.Info) -> None:
    tenant = getattr(info.request.state, STATE_KEY, None)
    if tenant is None:
        return
    REQUESTS.labels(tenant, info.modified_status[0] + "xx").inc()
    LATENCY.labels(tenant).observe(info.modified_duration)


def install(app: FastAPI) -> None:
    """Instrument `app` and serve `/metrics` (not in the OpenAPI document)."""
    Instrumentator().add(metrics.default()).add(_observe).instrument(app).expose(
        app, include_in_schema=False
    )
