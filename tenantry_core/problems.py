"""RFC 9457 problem+json: every error the control plane and the app plane answer with.

`install(app)` turns `Problem`, validation errors, HTTP errors (405 with a correct `Allow`) and
unexpected exceptions into `application/problem+json` documents.
"""

from __future__ import annotations

import http
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise from a route or service to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.type = status, title, detail, type_
        self.headers, self.extra = headers or {}, extra


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str = "",
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.title,
            exc.detail,
            type_=exc.type,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(
            request,
            422,
            "Unprocessable Content",
            "the request body or parameters are invalid",
            errors=errors,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its traceback by the server; the client gets a problem, never a trace.
        return problem_response(
            request, 500, "Internal Server Error", "an unexpected error; the request id says which"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = http.HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else ""
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem_response(request, exc.status_code, title, detail, headers=headers)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves at `path` (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for context in routing.iter_route_contexts(app.routes):
        regex, _, _ = compile_path(context.path_format or "")
        if regex.match(path):
            methods |= set(context.methods or ())
    return sorted(methods)
