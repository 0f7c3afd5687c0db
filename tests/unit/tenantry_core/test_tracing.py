"""tenantry_core.tracing: when spans are exported, the W3C traceparent in and out, spans under
a given parent, failures recorded, and trace ids in log records."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tenantry_core import tracing

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    ("env", "exported"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, False),
    ],
)
def test_spans_are_exported_only_to_a_named_endpoint(env: dict[str, str], exported: bool) -> None:
    assert tracing.exporting(env) is exported


def test_without_an_endpoint_nothing_is_installed() -> None:
    assert tracing.configure(tracing.CONTROL_PLANE, env={}) is False
    assert tracing.traceparent() is None
    with tracing.span("no-op"):  # the API's no-op: no trace, no cost
        assert tracing.current_ids() == {}


def test_the_service_name_is_the_components_unless_the_environment_names_one() -> None:
    assert tracing.service_name(tracing.OPERATOR, {}) == "tenantry-operator"
    assert tracing.service_name(tracing.OPERATOR, {"OTEL_SERVICE_NAME": "op-eu"}) == "op-eu"


def test_a_span_under_a_traceparent_continues_that_trace(spans: InMemorySpanExporter) -> None:
    with tracing.span("child", parent=PARENT, attributes={"tenantry.tenant_key": "acme"}) as span:
        own = tracing.traceparent()
        ids = tracing.current_ids()
    [finished] = spans.get_finished_spans()
    assert finished.context is not None
    assert finished.parent is not None
    assert trace.format_trace_id(finished.context.trace_id) == PARENT.split("-")[1]
    assert trace.format_span_id(finished.parent.span_id) == PARENT.split("-")[2]
    assert finished.attributes == {"tenantry.tenant_key": "acme"}
    span_id = trace.format_span_id(span.get_span_context().span_id)
    assert own == f"00-{PARENT.split('-')[1]}-{span_id}-01"
    assert ids == {"trace_id": PARENT.split("-")[1], "span_id": span_id}


@pytest.mark.parametrize(
    "bad", ["garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01", ""]
)
def test_a_missing_or_invalid_traceparent_starts_a_new_trace(
    spans: InMemorySpanExporter, bad: str
) -> None:
    assert tracing.extract(bad) is not None
    with tracing.span("root", parent=bad):
        pass
    [finished] = spans.get_finished_spans()
    assert finished.parent is None
    assert finished.context is not None
    assert finished.context.trace_id != 0


def test_a_span_without_a_parent_is_a_child_of_the_current_one(
    spans: InMemorySpanExporter,
) -> None:
    with tracing.span("outer") as outer, tracing.span("inner"):
        pass
    inner = spans.get_finished_spans()[0]
    assert inner.parent is not None
    assert inner.parent.span_id == outer.get_span_context().span_id


def test_failures_mark_the_span(spans: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError), tracing.span("raises"):
        raise RuntimeError("boom")
    with tracing.span("caught"):
        tracing.record_failure(ValueError("bad entry"))
    raised, caught = spans.get_finished_spans()
    assert raised.status.status_code is trace.StatusCode.ERROR
    assert [e.name for e in raised.events] == ["exception"]
    assert caught.status.status_code is trace.StatusCode.ERROR
    assert caught.status.description == "ValueError: bad entry"


def test_traced_runs_a_function_in_a_span_that_can_take_attributes(
    spans: InMemorySpanExporter,
) -> None:
    @tracing.traced("work")
    def work(n: int) -> int:
        tracing.set_attributes({"n": n, "skipped": None})
        return n * 2

    assert work(21) == 42
    [finished] = spans.get_finished_spans()
    assert (finished.name, finished.attributes) == ("work", {"n": 21})


def test_log_lines_carry_the_trace_id(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    factory = logging.getLogRecordFactory()
    try:
        tracing.tag_records()
        tracing.tag_records()  # once is enough
        with caplog.at_level(logging.INFO):
            with tracing.span("logged", parent=PARENT):
                logging.getLogger("tests").info("inside")
                event = tracing.add_ids(None, "info", {"event": "inside"})
            logging.getLogger("tests").info("outside")
    finally:
        logging.setLogRecordFactory(factory)
    inside, outside = caplog.records
    assert getattr(inside, "trace_id") == PARENT.split("-")[1]  # noqa: B009
    assert event["trace_id"] == PARENT.split("-")[1]
    assert len(event["span_id"]) == 16
    assert not hasattr(outside, "trace_id")
