"""The operator's metrics from what reconciles leave: fleet series, and one series per tenant
each, which go when the tenant goes (so their number is bounded by the tenants)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import REGISTRY
from tenantry_operator import metrics

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def status(phase: str, ready: str, reason: str, **extra: Any) -> dict[str, Any]:
    condition = {
        "type": "Ready",
        "status": ready,
        "reason": reason,
        "lastTransitionTime": "2026-11-24T09:00:02Z",
    }
    return {"phase": phase, "placement": "pool", "conditions": [condition], **extra}


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_a_tenant_becoming_ready_is_timed_once_and_counted_by_tier() -> None:
    before = value("tenantry_time_to_ready_seconds_count") or 0.0
    created = "2026-11-24T09:00:00Z"
    metrics.observe(
        "t-ready",
        tier="free",
        created=created,
        status=status("Provisioning", "False", "NamespaceNotReady"),
        now=NOW,
    )
    assert value("tenantry_tenants_not_ready", reason="NamespaceNotReady") == 1
    assert value("tenantry_tenant_time_to_ready_seconds", tenant="t-ready") is None
    for _ in range(2):
        metrics.observe(
            "t-ready",
            tier="free",
            created=created,
            status=status("Ready", "True", "Ready"),
            now=NOW,
        )
    assert value("tenantry_tenant_time_to_ready_seconds", tenant="t-ready") == 2.0
    assert value("tenantry_time_to_ready_seconds_count") == before + 1
    assert value("tenantry_tenants", tier="free", phase="Ready", placement="pool") == 1
    assert value("tenantry_tenants_not_ready", reason="NamespaceNotReady") is None
    assert value("tenantry_tenant_reconcile_ok", tenant="t-ready") == 1
    assert value("tenantry_tenant_last_reconcile_timestamp_seconds", tenant="t-ready") == (
        NOW.timestamp()
    )
    metrics.forget_tenant("t-ready")


def test_a_finished_migration_is_counted_once_with_its_write_block() -> None:
    migration = {"phase": "Completed", "started": "2026-11-24T08:59:00Z", "writeBlockMs": 120}
    done = value("tenantry_migrations_total", result="Completed") or 0.0
    for _ in range(3):
        metrics.observe(
            "t-moved",
            tier="enterprise",
            created=None,
            status=status("Ready", "True", "Ready", migration=migration),
            now=NOW,
        )
    assert value("tenantry_migrations_total", result="Completed") == done + 1
    assert value("tenantry_tenant_migration_write_block_seconds", tenant="t-moved") == 0.12
    assert (value("tenantry_migration_seconds_sum") or 0) >= 60
    metrics.forget_tenant("t-moved")


def test_an_offboarded_tenant_leaves_no_series_of_its_own() -> None:
    names = [f"t-{n}" for n in range(50)]
    for name in names:
        metrics.observe(
            name,
            tier="free",
            created=None,
            status=status("Failed", "False", "ApplyFailed"),
            now=NOW,
        )
    assert value("tenantry_tenant_reconcile_ok", tenant="t-7") == 0
    assert value("tenantry_tenants_not_ready", reason="ApplyFailed") == 50
    for name in names:
        metrics.forget_tenant(name)
    per_tenant = [
        sample
        for family in REGISTRY.collect()
        if family.name.startswith("tenantry_tenant_")
        for sample in family.samples
        if sample.labels.get("tenant", "").startswith("t-")
    ]
    assert per_tenant == []
    assert value("tenantry_tenants_not_ready", reason="ApplyFailed") is None


def test_each_reconcile_step_is_timed_by_name() -> None:
    before = value("tenantry_reconcile_step_seconds_count", step="namespace") or 0.0
    with metrics.step("namespace"):
        pass
    assert value("tenantry_reconcile_step_seconds_count", step="namespace") == before + 1
