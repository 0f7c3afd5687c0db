"""The app plane's `/metrics`: requests and latency per tenant, with bounded labels."""

from __future__ import annotations

import httpx
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from tests.integration import support


def samples(env: dict[str, str]) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = httpx.get(env["APP_URL"] + "/metrics").text
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def test_each_tenants_requests_are_counted_with_bounded_labels(
    api: httpx.Client, app: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> None:
    body = support.signup(api, support.unique("Metered"))
    tenant, owner = body["tenant"]["slug"], support.auth(body)
    support.wait_ready(custom, tenant)
    for _ in range(3):
        assert app.get("/projects", headers=owner).status_code == 200
    assert app.post("/projects", json={}, headers=owner).status_code == 422
    assert app.get("/projects").status_code == 401  # no tenant: not in the tenant series

    found = samples(env)
    counted = {
        labels["code"]: value
        for labels, value in found["tenantry_app_tenant_requests_total"]
        if labels["tenant"] == tenant
    }
    assert counted == {"2xx": 3.0, "4xx": 1.0}
    latency = [
        value
        for labels, value in found["tenantry_app_tenant_request_seconds_count"]
        if labels["tenant"] == tenant
    ]
    assert latency == [4.0]
    for name in (
        "tenantry_app_tenant_requests_total",
        "tenantry_app_tenant_request_seconds_bucket",
    ):
        label_names = {frozenset(labels) for labels, _ in found[name]}
        assert label_names <= {frozenset({"tenant", "code"}), frozenset({"tenant", "le"})}
    codes = {labels["code"] for labels, _ in found["tenantry_app_tenant_requests_total"]}
    assert codes <= {"1xx", "2xx", "3xx", "4xx", "5xx"}
    assert "http_requests_total" in found  # the instrumentator's own, by route
