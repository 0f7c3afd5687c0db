"""The local OTLP/HTTP receiver: a real exporter's spans arrive as JSON lines, and
`tenantry-dev traces` shows them as a list of traces or one trace's tree."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from typer.testing import CliRunner

from localplatform import cli, procs, tracesink
from tests.conftest import eventually


def _receiver(out: Path) -> str:
    port = procs.free_port()
    threading.Thread(target=tracesink.serve, args=(port, out), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    eventually(lambda: procs.http_ok(url + "/"), what="the receiver")
    return url


def _export(url: str) -> tuple[str, str]:
    """A two-service trace, exported over OTLP/HTTP (gzip) as Tenantry's processes export it;
    its trace id and the root's span id."""
    providers = []
    for service in ("tenantry-control-plane", "tenantry-operator"):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        exporter = OTLPSpanExporter(endpoint=url + tracesink.PATH, compression=Compression.Gzip)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        providers.append(provider)
    control, operator = providers
    named = operator.get_tracer("t").start_as_current_span(
        "reconcile", attributes={"tenantry.tenant_key": "acme", "other": 1}
    )
    with control.get_tracer("t").start_as_current_span("tenant.signup") as signup, named:
        pass
    for provider in providers:
        provider.shutdown()
    ids = signup.get_span_context()
    return format(ids.trace_id, "032x"), format(ids.span_id, "016x")


def test_exported_spans_arrive_as_json_lines(tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    trace_id, signup_id = _export(_receiver(out))
    spans = eventually(lambda: tracesink.read(out) if len(tracesink.read(out)) == 2 else None)
    reconcile, signup = spans  # the child ends first
    assert signup["span_id"] == signup_id
    assert (signup["service"], signup["name"], signup["parent_span_id"]) == (
        "tenantry-control-plane",
        "tenant.signup",
        None,
    )
    assert reconcile["parent_span_id"] == signup_id
    assert reconcile["trace_id"] == signup["trace_id"] == trace_id
    assert reconcile["attributes"] == {"tenantry.tenant_key": "acme", "other": 1}
    assert (reconcile["kind"], reconcile["status"]) == ("internal", "unset")
    assert reconcile["end_ns"] >= reconcile["start_ns"] > 0
    assert tracesink.read(out, "0" * 32) == []


def test_the_receiver_refuses_what_is_not_an_otlp_export(tmp_path: Path) -> None:
    url = _receiver(tmp_path / "traces.jsonl")
    assert httpx.post(url + tracesink.PATH, content=b"\xff\xff not protobuf").status_code == 400
    assert httpx.post(url + "/v1/metrics", content=b"").status_code == 404
    assert not (tmp_path / "traces.jsonl").exists()


def _span(span_id: str, parent: str | None, name: str, start: int) -> tracesink.Span:
    return {
        "trace_id": "t1",
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "service": "svc",
        "kind": "internal",
        "start_ns": start,
        "end_ns": start + 2_000_000,
        "status": "error" if name == "step.data" else "unset",
        "attributes": {"tenantry.step": name, "http.route": "/x"},
    }


TRACE = [
    _span("c", "a", "step.data", 30_000_000),
    _span("a", None, "POST /signup", 0),
    _span("b", "a", "step.namespace", 10_000_000),
    _span("d", "gone", "reconcile", 40_000_000),  # its parent never arrived
]


def test_a_trace_prints_as_a_tree_children_in_start_order() -> None:
    assert tracesink.tree(TRACE) == [
        "POST /signup [svc] +0.0ms 2.0ms tenantry.step=POST /signup",
        "  step.namespace [svc] +10.0ms 2.0ms tenantry.step=step.namespace",
        "  step.data [svc] +30.0ms 2.0ms ERROR tenantry.step=step.data",
        "reconcile [svc] +40.0ms 2.0ms tenantry.step=reconcile",
    ]


def test_traces_are_summarised_oldest_first() -> None:
    other = {**_span("x", None, "GET /healthz", -5), "trace_id": "t0", "service": "app"}
    assert tracesink.summaries([*TRACE, other]) == [
        {"trace_id": "t0", "start_ns": -5, "root": "GET /healthz", "services": ["app"], "spans": 1},
        {"trace_id": "t1", "start_ns": 0, "root": "POST /signup", "services": ["svc"], "spans": 4},
    ]


def test_tenantry_dev_traces_lists_traces_and_prints_one(tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    trace_id, _ = _export(_receiver(out))
    eventually(lambda: len(tracesink.read(out)) == 2)
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["traces", "--path", str(out)])
    assert listed.exit_code == 0, listed.output
    assert trace_id in listed.output
    assert "2 spans  tenant.signup  (tenantry-control-plane, tenantry-operator)" in listed.output
    shown = runner.invoke(cli.app, ["traces", trace_id, "--path", str(out)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("tenant.signup [tenantry-control-plane]")
    assert lines[1].startswith("  reconcile [tenantry-operator]")
    assert lines[1].endswith("tenantry.tenant_key=acme")
    missing = runner.invoke(cli.app, ["traces", "f" * 32, "--path", str(out)])
    assert missing.exit_code == 1
