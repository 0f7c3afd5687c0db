"""Structured JSON logs (structlog), one line a record, for every Tenantry process: the control
plane and the app plane (with the request id of asgi-correlation-id and what the request's
dependencies bind: tenant and actor, and the current span's trace_id and span_id from
`tenantry_core.tracing`) and the operator; uvicorn's lines included. `AccessLog` is the web
services' one JSON line per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry_core import tracing


def _add_request_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = correlation_id.get()
    if request_id:
        event["request_id"] = request_id
    return event


def configure(level: int = logging.INFO) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        tracing.add_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso"),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # the server's lines too
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True


class AccessLog:
    """One JSON line per request: method, path, status, duration, and what `fields` finds in
    the request's state (its tenant, its actor)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        logger: str,
        fields: Callable[[Mapping[str, Any]], Mapping[str, Any]] = lambda _: {},
    ) -> None:
        self.app, self.log, self.fields = app, structlog.get_logger(logger), fields

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
            self.log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **self.fields(scope.get("state") or {}),
            )
