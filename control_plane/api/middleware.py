"""Pure ASGI middleware of the control plane: rate-limit headers and the JSON access log.

Both read what the dependencies left in the request state (the rate-limit decision, the actor),
so they see it on every response, problem documents included.
"""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry_core import gcra

log = structlog.get_logger("control_plane.access")


class RateLimitHeaders:
    """Adds RateLimit headers to every response of a rate-limited request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            decision = (scope.get("state") or {}).get("ratelimit")
            if message["type"] == "http.response.start" and isinstance(
                decision, gcra.Decision
            ):
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.lower().encode(), v.encode())
                    for k, v in decision.headers().items()
                    if k.lower().encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class AccessLog:
    """One JSON line per request: method, path, status, duration, tenant and actor."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            actor = (scope.get("state") or {}).get("actor")
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                tenant_id=str(actor.tenant_id) if actor and actor.tenant_id else None,
                actor=actor.ref if actor else None,
            )
