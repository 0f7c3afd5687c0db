"""The published OpenAPI document: every error documented as RFC 9457 problem+json.

FastAPI documents only what a route declares; here each operation also gets the errors every
route can answer (401, 403, 404, 422, 429 and 503 where they apply), all with the `Problem`
schema and media type, and the Idempotency-Key header only where it is honoured (POST, PATCH).
`control_plane.main` publishes it; Schemathesis checks the running API against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from tenantry_core import problems

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An RFC 9457 problem document",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}
_REF = {"$ref": "#/components/schemas/Problem"}
_COMMON = {
    "400": "Bad request (a malformed header)",
    "422": "Invalid parameters or body",
    "429": "The tenant's rate limit is used up (see Retry-After)",
    "503": "A dependency is not ready yet (see Retry-After)",
}
_AUTHENTICATED = {
    "401": "Missing, invalid or expired credentials",
    "403": "The caller lacks the permission",
    "404": "No such resource visible to the caller",
}
_WRITES = {"409": "Conflict, or a request with this Idempotency-Key still in progress"}


def document(
    app: FastAPI, permission_of: Callable[[APIRoute], str | None] = lambda _: None
) -> dict[str, Any]:
    """Build (once) the OpenAPI document with the problem responses filled in, and each
    operation's required permission as `x-permission`."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
    for context in routing.iter_route_contexts(app.routes):
        route = context.route
        permission = permission_of(route) if isinstance(route, APIRoute) else None
        item = spec.get("paths", {}).get(context.path_format, {})
        for method in context.methods or ():
            if permission and method.lower() in item:
                item[method.lower()]["x-permission"] = permission
    spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    schemas = spec["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            extra = dict(_COMMON)
            if operation.get("security"):
                extra |= _AUTHENTICATED
            if method in ("post", "patch", "delete", "put"):
                extra |= _WRITES
            for code, description in extra.items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = {problems.MEDIA_TYPE: {"schema": _REF}}
            if method not in ("post", "patch"):
                operation["parameters"] = [
                    p for p in operation.get("parameters", []) if p.get("name") != "Idempotency-Key"
                ]
                if not operation["parameters"]:
                    del operation["parameters"]
    app.openapi_schema = spec
    return spec
