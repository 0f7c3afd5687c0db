"""The operator's Prometheus metrics: tenants by tier, phase and placement, reconciliations,
Events, time to Ready, and each tenant's own series (gone once it is offboarded)."""

from __future__ import annotations

import httpx
from kubernetes import client
from prometheus_client import parser

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(platform: stack.Platform) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{platform.port('operator-metrics')}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
    }


def tenants(samples: Samples, phase: str) -> float:
    """Pool tenants in `phase`, of every tier."""
    return sum(
        value
        for (metric, labels), value in samples.items()
        if metric == "tenantry_tenants"
        and ("phase", phase) in labels
        and ("placement", "pool") in labels
    )


def own(samples: Samples, metric: str, tenant: str) -> float | None:
    return samples.get((metric, (("tenant", tenant),)))


def test_metrics_follow_tenants_through_their_life(
    platform: stack.Platform, custom: client.CustomObjectsApi
) -> None:
    before = scrape(platform)
    name = support.unique("metered")
    support.create_tenant(custom, name, tier="free")
    support.wait_ready(custom, name)

    def counted() -> Samples | None:
        samples = scrape(platform)
        return samples if tenants(samples, "Ready") > tenants(before, "Ready") else None

    after = eventually(counted, what="a Ready pool tenant counted")
    done = ("tenantry_reconciles_total", (("result", "done"),))
    assert after[done] > before.get(done, 0.0)
    assert after[("tenantry_reconcile_seconds_count", ())] > 0
    assert any(metric == "tenantry_events_total" for metric, _ in after)
    by_tier = (("phase", "Ready"), ("placement", "pool"), ("tier", "free"))
    assert ("tenantry_tenants", by_tier) in after
    assert own(after, "tenantry_tenant_reconcile_ok", name) == 1
    took = own(after, "tenantry_tenant_time_to_ready_seconds", name)  # whole seconds: may be 0
    assert took is not None
    assert 0 <= took < 60
    assert (own(after, "tenantry_tenant_last_reconcile_timestamp_seconds", name) or 0) > 0
    assert after[("tenantry_time_to_ready_seconds_count", ())] >= 1
    for step in ("namespace", "data", "workload"):
        assert after[("tenantry_reconcile_step_seconds_count", (("step", step),))] > 0

    support.patch_tenant(custom, name, suspended=True)
    support.wait_phase(custom, name, "Suspended")
    eventually(
        lambda: tenants(scrape(platform), "Suspended") >= 1, what="the suspended tenant counted"
    )
    ready_while_suspended = tenants(scrape(platform), "Ready")
    support.delete_tenant(custom, name)
    offboarded = ("tenantry_offboards_total", (("result", "done"),))
    eventually(lambda: scrape(platform).get(offboarded, 0) >= 1, what="the offboarding counted")
    assert tenants(scrape(platform), "Ready") <= ready_while_suspended
    gone = scrape(platform)
    assert own(gone, "tenantry_tenant_reconcile_ok", name) is None
    assert own(gone, "tenantry_tenant_time_to_ready_seconds", name) is None
