"""Each domain error answers with the problem document the API has always given for it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI, Request

from control_plane.api import errors as api_errors
from control_plane.services import errors
from tenantry_core import problems

UNKNOWN = [{"loc": ["body", "tier"], "msg": "unknown tier", "type": "value_error"}]


@pytest.mark.parametrize(
    ("error", "status", "title", "detail", "extra", "headers"),
    [
        (errors.NotFound("no such tenant"), 404, "Not Found", "no such tenant", {}, {}),
        (
            errors.Conflict("Tenant exists", "a tenant named 'Acme' exists"),
            409,
            "Tenant exists",
            "a tenant named 'Acme' exists",
            {},
            {},
        ),
        (
            errors.UnknownTier("gold", offered={"pro", "free"}),
            422,
            "Unknown tier",
            "tier 'gold' is not offered",
            {"errors": UNKNOWN, "allowed": ["free", "pro"]},
            {},
        ),
        (
            errors.UnknownTier("gold"),
            422,
            "Unknown tier",
            "tier 'gold' does not exist",
            {"errors": UNKNOWN},
            {},
        ),
        (
            errors.InvalidInput(
                "Invalid cursor",
                "the cursor is not one this API returned",
                field="cursor",
                reason="invalid cursor",
                location="query",
            ),
            422,
            "Invalid cursor",
            "the cursor is not one this API returned",
            {
                "errors": [
                    {"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}
                ]
            },
            {},
        ),
        (
            errors.Forbidden("this needs the 'users:read' permission", permission="users:read"),
            403,
            "Forbidden",
            "this needs the 'users:read' permission",
            {"permission": "users:read"},
            {},
        ),
        (
            errors.Forbidden("this role would need more", missing=["billing:manage"]),
            403,
            "Forbidden",
            "this role would need more",
            {"missing": ["billing:manage"]},
            {},
        ),
        (
            errors.Unauthorized("a bearer token is required"),
            401,
            "Unauthorized",
            "a bearer token is required",
            {},
            {"WWW-Authenticate": "Bearer"},
        ),
        (
            errors.Unavailable("Tiers unavailable", "not loaded yet", retry_after=2),
            503,
            "Tiers unavailable",
            "not loaded yet",
            {},
            {"Retry-After": "2"},
        ),
        (
            errors.Unavailable("Usage unavailable", "no usage database"),
            503,
            "Usage unavailable",
            "no usage database",
            {},
            {},
        ),
    ],
)
def test_each_kind_maps_to_its_problem(
    error: errors.DomainError,
    status: int,
    title: str,
    detail: str,
    extra: dict[str, Any],
    headers: dict[str, str],
) -> None:
    found = api_errors.problem(error)
    assert (found.status, found.title, found.detail) == (status, title, detail)
    assert found.extra == extra
    assert found.headers == headers


def test_the_handler_answers_problem_json() -> None:
    app = FastAPI()
    api_errors.install(app)
    assert app.exception_handlers[errors.DomainError] is api_errors.answer
    request = Request({"type": "http", "method": "POST", "path": "/api/v1/signup", "headers": []})
    answer = asyncio.run(api_errors.answer(request, errors.UnknownTier("gold", offered={"free"})))
    assert answer.status_code == 422
    assert answer.media_type == problems.MEDIA_TYPE
    assert json.loads(bytes(answer.body)) == {
        "type": "about:blank",
        "title": "Unknown tier",
        "status": 422,
        "instance": "/api/v1/signup",
        "detail": "tier 'gold' is not offered",
        "errors": UNKNOWN,
        "allowed": ["free"],
    }


def test_a_refused_feature_names_the_plans_that_include_it() -> None:
    found = api_errors.problem(
        errors.NotEntitled("sso", plan="free", plans=["enterprise"], reason="NOT_IN_PLAN")
    )
    assert (found.status, found.title, found.type) == (
        403,
        "Not in your plan",
        api_errors.ENTITLEMENT,
    )
    assert (
        found.detail
        == "the 'sso' feature is not in the 'free' plan; plans that include it: enterprise"
    )
    assert found.extra == {
        "feature": "sso",
        "plan": "free",
        "plans_with_feature": ["enterprise"],
        "reason": "NOT_IN_PLAN",
    }
    held = api_errors.problem(
        errors.NotEntitled("new-ui", plan="pro", plans=[], reason="NOT_TARGETED")
    )
    assert (held.title, held.extra["reason"]) == ("Feature not available", "NOT_TARGETED")
