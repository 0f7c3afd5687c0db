"""Pure ASGI middleware of the control plane: rate-limit headers, and what its JSON access log
(`tenantry_core.logs.AccessLog`) and its request spans (`tenantry_core.serverspans.ServerSpans`) say
of the caller.

Both read what the dependencies left in the request state (the rate-limit decision, the actor),
so they see it on every response, problem documents included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry_core import gcra


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
            if message["type"] == "http.response.start" and isinstance(decision, gcra.Decision):
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.lower().encode(), v.encode())
                    for k, v in decision.headers().items()
                    if k.lower().encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def access_fields(state: Mapping[str, Any]) -> dict[str, Any]:
    """What the access log says of a request's caller: its tenant and actor."""
    actor = state.get("actor")
    return {
        "tenant_id": str(actor.tenant_id) if actor and actor.tenant_id else None,
        "actor": actor.ref if actor else None,
    }


def span_fields(state: Mapping[str, Any]) -> dict[str, str | None]:
    """What a request's span says of its caller: its tenant and actor."""
    actor = state.get("actor")
    return {
        "tenantry.tenant_key": actor.tenant_key if actor else None,
        "tenantry.actor": actor.ref if actor else None,
    }
