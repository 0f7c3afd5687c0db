"""OpenTelemetry tracing for every Tenantry process, and the W3C `traceparent` that carries a
trace from one process to the next.

`configure(service)` installs the SDK's tracer provider (its service.name one of CONTROL_PLANE,
OPERATOR, APP_PLANE, unless OTEL_SERVICE_NAME says otherwise) with a batch exporter over OTLP/HTTP
when the standard OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the
exporter and the batch processor read the other standard variables (headers, timeout,
OTEL_BSP_SCHEDULE_DELAY, ...). Without an endpoint nothing is installed: every span is the API's
no-op, which costs next to nothing and still passes a parent's trace id along.

`span` runs code in a span, under a `traceparent` string when given (an outbox row's, the
Tenant's annotation ANNOTATION); `traceparent()` is the current one. `ServerSpans` is the web
services' span per request (it honours an incoming `traceparent` header and answers with its
own). `add_ids` (a structlog processor, in `tenantry_core.logs`) and `tag_records` (plain
logging: the operator's kopf JSON lines) put trace_id and span_id in log lines.
Used by control_plane, tenantry_operator and app_plane.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL_PLANE = "tenantry-control-plane"
OPERATOR = "tenantry-operator"
APP_PLANE = "tenantry-app-plane"
ANNOTATION = "tenantry.dev/traceparent"  # on a Tenant: the trace its reconciles continue
HEADER = "traceparent"
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
Attributes = Mapping[str, AttributeValue]

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER = trace.get_tracer("tenantry")  # a proxy: it follows the provider `configure` installs
_INSTALLED: list[str] = []  # what this process configured (once per process)


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
    return _PROPAGATOR.extract({HEADER: traceparent} if traceparent else {})


def traceparent(ctx: otel_context.Context | None = None) -> str | None:
    """The W3C traceparent of the current span (or of `ctx`'s), None without a valid one."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=ctx)
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
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    attributes: Attributes | None = None,
) -> Iterator[trace.Span]:
    """Run the block in a span named `name`: a child of the current span, or of `parent` (a
    traceparent) when one is given. An exception is recorded on it and marks it failed."""
    ctx = extract(parent) if parent is not None else None
    with _TRACER.start_as_current_span(name, ctx, kind, attributes) as current:
        yield current


def set_attributes(attributes: Mapping[str, AttributeValue | None]) -> None:
    """Add attributes to the current span (those that are None are left out)."""
    current = trace.get_current_span()
    current.set_attributes({k: v for k, v in attributes.items() if v is not None})


def add_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current trace_id and span_id in the line."""
    for key, value in current_ids().items():
        event.setdefault(key, value)
    return event


def tag_records() -> None:
    """Give every log record of this process the current trace_id and span_id as attributes
    (JSON formatters print a record's extra attributes: kopf's does)."""
    if "records" in _INSTALLED:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.__dict__.update(current_ids())
        return record

    logging.setLogRecordFactory(factory)
    _INSTALLED.append("records")


class ServerSpans:
    """A server span per HTTP request, named after its route (`POST /api/v1/signup`), a child of
    the caller's `traceparent` header if it sent one; the response carries the span's own
    `traceparent`. `fields` adds attributes from the request's state once the app answered
    (its tenant)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        fields: Callable[[Mapping[str, Any]], Mapping[str, AttributeValue | None]] = lambda _: {},
    ) -> None:
        self.app, self.fields = app, fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method, status = scope["method"], 500
        with _TRACER.start_as_current_span(
            method,
            _PROPAGATOR.extract(headers),
            trace.SpanKind.SERVER,
            {"http.request.method": method, "url.path": scope["path"]},
        ) as current:
            own = traceparent(trace.set_span_in_context(current))

            async def answer(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    if own:
                        message["headers"] = [
                            *message.get("headers", []),
                            (HEADER.encode(), own.encode()),
                        ]
                await send(message)

            try:
                await self.app(scope, receive, answer)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    current.update_name(f"{method} {route}")
                current.set_attributes(
                    {
                        "http.response.status_code": status,
                        **({"http.route": route} if route else {}),
                        **{
                            k: v
                            for k, v in self.fields(scope.get("state") or {}).items()
                            if v is not None
                        },
                    }
                )
                if status >= 500:
                    current.set_status(trace.StatusCode.ERROR)
