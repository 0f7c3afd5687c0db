"""What the web services' request spans carry beyond FastAPI's own (the control plane and the app
plane). FastAPI's native telemetry opens a server span per request, a child of the caller's
`traceparent` header, once `tenantry_core.tracing.configure` installed a tracer provider;
`ServerSpans` adds the request's tenant (what `fields` finds in the request's state) to that span
and answers with its `traceparent` response header, so a caller can find its trace. Without a
provider the span is the API's no-op and nothing is added. `TELEMETRY` is both apps' FastAPI
telemetry setting: probes and scrapes (`UNTRACED`) make no spans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry_core import tracing

Fields = Callable[[Mapping[str, Any]], Mapping[str, AttributeValue | None]]
UNTRACED = frozenset({"/healthz", "/metrics"})  # liveness probes and Prometheus scrapes


def untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED


TELEMETRY: TelemetryConfig = {"exclude": untraced}


class ServerSpans:
    """Pure ASGI middleware: the `traceparent` response header, and `fields` on the request's
    span (set as the response starts, when the dependencies have run)."""

    def __init__(self, app: ASGIApp, *, fields: Fields = lambda _: {}) -> None:
        self.app, self.fields = app, fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_span = trace.get_current_span()
        own = tracing.traceparent()
        if scope["type"] != "http" or own is None:
            await self.app(scope, receive, send)
            return

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                found = self.fields(scope.get("state") or {})
                request_span.set_attributes({k: v for k, v in found.items() if v is not None})
                message["headers"] = [
                    *message.get("headers", []),
                    (tracing.HEADER.encode(), own.encode()),
                ]
            await send(message)

        await self.app(scope, receive, answer)
