"""Domain errors as problem+json: the one place that gives each kind of `services.errors` its
HTTP status, its extra members and its headers. `install(app)` (called by `control_plane.main`)
registers `answer` as the handler; `problem` is the mapping itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from control_plane.services import errors
from tenantry_core import problems

ENTITLEMENT = "https://tenantry.dev/problems/entitlement"  # as the app plane's
STATUS: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 422,
    errors.Unauthorized: 401,
    errors.PaymentRequired: 402,
    errors.Forbidden: 403,
    errors.NotEntitled: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unavailable: 503,
}


def problem(exc: errors.DomainError) -> problems.Problem:
    """The problem document a domain error answers with (500 for a kind without a status)."""
    status = next((STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS), 500)
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    type_ = "about:blank"
    match exc:
        case errors.InvalidInput():
            extra["errors"] = [
                {"loc": [exc.location, exc.field], "msg": exc.reason, "type": "value_error"}
            ]
            if exc.allowed is not None:
                extra["allowed"] = exc.allowed
        case errors.Forbidden():
            if exc.permission is not None:
                extra["permission"] = exc.permission
            if exc.missing is not None:
                extra["missing"] = exc.missing
            if exc.reason is not None:
                extra["reason"] = exc.reason
        case errors.NotEntitled():
            type_ = ENTITLEMENT
            extra.update(
                feature=exc.feature, plan=exc.plan, plans_with_feature=exc.plans, reason=exc.reason
            )
        case errors.PaymentRequired():
            extra["reason"] = exc.reason
        case errors.Unauthorized():
            headers["WWW-Authenticate"] = "Bearer"
        case errors.Unavailable() if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
    return problems.Problem(status, exc.title, exc.detail, type_=type_, headers=headers, **extra)


async def answer(request: Request, exc: errors.DomainError) -> JSONResponse:
    """The exception handler: the problem document of `exc` for this request."""
    found = problem(exc)
    return problems.problem_response(
        request,
        found.status,
        found.title,
        found.detail,
        type_=found.type,
        headers=found.headers,
        **found.extra,
    )


def install(app: FastAPI) -> None:
    app.exception_handler(errors.DomainError)(answer)
