"""Tracing: one trace from a signup request through the control plane's outbox to the operator's
reconcile and its steps, joined by the Tenant's `tenantry.dev/traceparent` annotation, and the
app plane's request spans; all exported over OTLP/HTTP to the platform's local receiver."""

from __future__ import annotations

import json
from typing import Any

import httpx
from kubernetes import client

from localplatform import stack, tracesink
from tenantry_core import tracing
from tests.conftest import eventually
from tests.integration import support

CONTROL_PLANE, OPERATOR, APP_PLANE = tracing.CONTROL_PLANE, tracing.OPERATOR, tracing.APP_PLANE


def _named(spans: list[dict[str, Any]], service: str, name: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["service"] == service and s["name"] == name]


def _served(spans: list[dict[str, Any]], service: str, path: str) -> list[dict[str, Any]]:
    """The server spans (FastAPI's) of requests to `path`."""
    return [
        s
        for s in spans
        if s["service"] == service and s["kind"] == "server" and s["attributes"]["url.path"] == path
    ]


def _ancestors(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    while span["parent_span_id"] in by_id:
        span = by_id[span["parent_span_id"]]
        found.append(span["span_id"])
    return found


def test_a_signup_is_one_trace_from_its_request_to_the_operators_steps(
    api: httpx.Client, app: httpx.Client, custom: client.CustomObjectsApi, platform: stack.Platform
) -> None:
    response = api.post(
        "/signup",
        json={
            "company": support.unique("Traced"),
            "email": f"owner@{support.unique('traced')}.example.com",
            "password": "correct horse battery staple",
            "tier": "free",
        },
    )
    assert response.status_code == 201, response.text
    traceparent = response.headers["traceparent"]
    trace_id = traceparent.split("-")[1]
    key = response.json()["tenant"]["slug"]
    tenant = support.wait_ready(custom, key)
    annotation = tenant["metadata"]["annotations"][tracing.ANNOTATION]
    assert annotation.split("-")[1] == trace_id  # the Tenant carries the signup's trace

    # The app plane continues a caller's trace, and names the tenant on its span.
    headers = {**support.auth(response.json()), "traceparent": traceparent}
    assert app.get("/projects", headers=headers).status_code == 200

    wanted = {
        (CONTROL_PLANE, "tenant.signup"),
        (CONTROL_PLANE, "outbox.deliver"),
        (OPERATOR, "reconcile"),
        (OPERATOR, "step.tier"),
        (OPERATOR, "step.namespace"),
        (OPERATOR, "step.data"),
        (OPERATOR, "step.workload"),
    }

    def received() -> list[dict[str, Any]] | None:
        spans = tracesink.read(platform.traces, trace_id)
        names = {(s["service"], s["name"]) for s in spans}
        app_spans = _served(spans, APP_PLANE, "/api/projects")
        return spans if wanted <= names and app_spans else None

    spans = eventually(received, timeout=30, what=f"the spans of trace {trace_id}")
    by_id = {s["span_id"]: s for s in spans}
    # Parent links are intact: only the signup request has no parent in the trace.
    [request] = _served(spans, CONTROL_PLANE, "/api/v1/signup")
    assert [s for s in spans if s["parent_span_id"] not in by_id] == [request]
    assert request["parent_span_id"] is None
    assert request["attributes"]["http.response.status_code"] == 201
    assert traceparent.split("-")[2] == request["span_id"]
    [signup] = _named(spans, CONTROL_PLANE, "tenant.signup")
    assert request["span_id"] in _ancestors(signup, by_id)
    assert signup["attributes"]["tenantry.tenant_key"] == key
    assert annotation.split("-")[2] == signup["span_id"]
    delivered = _named(spans, CONTROL_PLANE, "outbox.deliver")
    assert signup["span_id"] in {s["parent_span_id"] for s in delivered}
    assert all(s["attributes"]["tenantry.tenant_key"] == key for s in delivered)

    # Each reconcile continues the trace of the change the Tenant last carried.
    reconciles = _named(spans, OPERATOR, "reconcile")
    carriers = {signup["span_id"]} | {s["span_id"] for s in delivered}
    assert {r["parent_span_id"] for r in reconciles} <= carriers
    assert all(r["attributes"]["tenantry.tenant_key"] == key for r in reconciles)
    ready = [r for r in reconciles if r["attributes"].get("tenantry.ready") is True]
    assert ready, [r["attributes"] for r in reconciles]
    assert ready[-1]["attributes"]["tenantry.placement"] == "pool"
    assert ready[-1]["attributes"]["tenantry.tier"] == "free"
    assert ready[-1]["attributes"]["tenantry.result.reason"] == "Provisioned"
    for step in ("tier", "namespace", "data", "workload"):
        found = _named(spans, OPERATOR, f"step.{step}")
        assert all(by_id[s["parent_span_id"]]["name"] == "reconcile" for s in found)
        assert all(s["attributes"]["tenantry.step"] == step for s in found)
    assert any(
        s["attributes"].get("tenantry.result.ok") is True
        and s["attributes"].get("tenantry.result.reason")
        for s in _named(spans, OPERATOR, "step.workload")
    )

    # The access log line of the signup names its trace beside its request id.
    def logged() -> list[dict[str, Any]] | None:
        log = (platform.supervisor.log_dir / "control-plane.log").read_text()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        found = [
            line
            for line in lines
            if line.get("logger") == "control_plane.access" and line.get("trace_id") == trace_id
        ]
        return found or None

    [access] = eventually(logged, what="the signup's access log line")
    assert access["path"] == "/api/v1/signup"
    assert access["request_id"] == response.headers["x-request-id"]

    [served] = _served(spans, APP_PLANE, "/api/projects")
    assert served["parent_span_id"] == request["span_id"]
    assert served["attributes"]["http.response.status_code"] == 200
    assert served["attributes"]["tenantry.tenant_key"] == key
