"""OpenTelemetry tracing for every Tenantry process, and the W3C `traceparent` that carries a
trace from one process to the next.

`configure(service)` installs the SDK's tracer provider (its service.name one of CONTROL_PLANE,
OPERATOR, APP_PLANE, unless OTEL_SERVICE_NAME says otherwise) with a batch exporter over OTLP/HTTP
when the standard OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the
exporter and the batch processor read the other standard variables (headers, timeout,
OTEL_BSP_SCHEDULE_DELAY, ...). Without an endpoint nothing is installed: every span is the API's
no-op, which costs next to nothing and still passes a parent's trace id along.

`span` (or `traced`) runs code in a span, under a `traceparent` string when given (an outbox
row's, the Tenant's annotation ANNOTATION); `traceparent()` is the current one. `add_ids` (a
structlog processor, in `tenantry_core.logs`) and `tag_records` (plain logging: the operator's
kopf JSON lines) put trace_id and span_id in log lines. This module knows no HTTP (workers and
services use it): `tenantry_core.serverspans` is the web services' span per request.
Used by control_plane, tenantry_operator and app_plane.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

CONTROL_PLANE = "tenantry-control-plane"
OPERATOR = "tenantry-operator"
APP_PLANE = "tenantry-app-plane"
ANNOTATION = "tenantry.dev/traceparent"  # on a Tenant: the trace its reconciles continue
HEADER = "traceparent"
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
Attributes = Mapping[str, AttributeValue]
P = ParamSpec("P")
R = TypeVar("R")

PROPAGATOR = TraceContextTextMapPropagator()
TRACER = trace.get_tracer("tenantry")  # a proxy: it follows the provider `configure` installs
_INSTALLED: list[str] = []  # the service this process exports as (configured once)


def exporting(env: Mapping[str, str]) -> bool:
    """Whether spans are exported: an OTLP endpoint is named and the SDK is not disabled."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARS)


def service_name(default: str, env: Mapping[str, str]) -> str:
    return env.get("OTEL_SERVICE_NAME", "").strip() or default


def configure(service: str, env: Mapping[str, str] | None = None) -> bool:
    """Export this process's spans as `service` when an endpoint is configured (once per
    process); returns whether spans are exported."""
    env = os.environ if env is None else env
    if not _INSTALLED and exporting(env):
        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service_name(service, env)})
        )
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _INSTALLED.append(service)
    return bool(_INSTALLED)


def extract(traceparent: str | None) -> otel_context.Context:
    """The context whose parent is `traceparent`; an empty one (a new trace) when it is
    missing or not a valid W3C traceparent."""
    return PROPAGATOR.extract({HEADER: traceparent} if traceparent else {})


def traceparent(ctx: otel_context.Context | None = None) -> str | None:
    """The W3C traceparent of the current span (or of `ctx`'s), None without a valid one."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier, context=ctx)
    return carrier.get(HEADER)


def current_ids() -> dict[str, str]:
    """trace_id and span_id (hex) of the current span, or nothing outside a valid span."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(found.trace_id),
        "span_id": trace.format_span_id(found.span_id),
    }


@contextmanager
def span(
    name: str,
    *,
    parent: str | None = None,
    link: str | None = None,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    attributes: Attributes | None = None,
) -> Iterator[trace.Span]:
    """Run the block in a span named `name`: a child of the current span, or of `parent` (a
    traceparent) when one is given; with `link` instead, the first span of a new trace that
    links to that one. An exception is recorded on it and marks it failed."""
    ctx = extract(parent) if parent is not None or link is not None else None
    linked = trace.get_current_span(extract(link)).get_span_context() if link else None
    links = [trace.Link(linked)] if linked is not None and linked.is_valid else None
    with TRACER.start_as_current_span(name, ctx, kind, attributes, links) as current:
        yield current


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function to run in a span named `name` (see `span`)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def in_span(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(name):
                return function(*args, **kwargs)

        return in_span

    return decorate


def set_attributes(attributes: Mapping[str, AttributeValue | None]) -> None:
    """Add attributes to the current span (those that are None are left out)."""
    current = trace.get_current_span()
    current.set_attributes({k: v for k, v in attributes.items() if v is not None})


def record_failure(exc: BaseException) -> None:
    """Mark the current span failed by `exc` (one that was caught, so `span` did not see it)."""
    current = trace.get_current_span()
    current.record_exception(exc)
    current.set_status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}")


def add_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current trace_id and span_id in the line."""
    for key, value in current_ids().items():
        event.setdefault(key, value)
    return event


class _Tagged:
    """A log record factory that adds the current trace_id and span_id to each record."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        record.__dict__.update(current_ids())
        return record


def tag_records() -> None:
    """Give every log record of this process the current trace_id and span_id as attributes
    (JSON formatters print a record's extra attributes: kopf's does)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _Tagged):
        logging.setLogRecordFactory(_Tagged(factory))
