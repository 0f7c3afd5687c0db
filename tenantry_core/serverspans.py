"""A server span per HTTP request, for the web services (the control plane and the app plane):
named after its route, a child of the caller's `traceparent` header when it sent one, and
answered with the span's own `traceparent` response header (`tenantry_core.tracing` configures
where spans go). `fields` adds attributes from the request's state once the app answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry_core import tracing


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
        with tracing.TRACER.start_as_current_span(
            method,
            tracing.PROPAGATOR.extract(headers),
            trace.SpanKind.SERVER,
            {"http.request.method": method, "url.path": scope["path"]},
        ) as current:
            own = tracing.traceparent(trace.set_span_in_context(current))

            async def answer(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    if own:
                        message["headers"] = [
                            *message.get("headers", []),
                            (tracing.HEADER.encode(), own.encode()),
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
