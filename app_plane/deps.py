"""The app plane's route dependencies: the authenticated caller (app_plane.access), a needed
`data:*` permission (also published in OpenAPI as `x-permission`) and a needed feature
(app_plane.features). Used by app_plane.main and app_plane.export_routes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app_plane import access, features, metrics, settings, usage
from tenantry_core import problems

_bearer = HTTPBearer(auto_error=False, description="An access token or an API key")


def current_caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    request: Request,
    response: Response,
) -> access.Caller:
    """The authenticated caller (once per request), its budget's state in the headers."""
    caller = access.authenticate(credentials.credentials if credentials else None)
    setattr(request.state, metrics.STATE_KEY, caller.tenant_key)
    if caller.ratelimit is not None:
        response.headers.update(caller.ratelimit.headers())
    if not settings.get_settings().dedicated:  # a dedicated app does not meter
        usage.meter.count(caller.tenant_key)
    return caller


CallerDep = Annotated[access.Caller, Depends(current_caller)]


class Allow:
    """Admit a caller that holds `permission`."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __call__(self, caller: CallerDep) -> access.Caller:
        access.require(caller, self.permission)
        return caller


def needs(permission: str) -> dict[str, Any]:
    """A route's keyword arguments for needing `permission` (checked, and shown in OpenAPI)."""
    return {
        "dependencies": [Depends(Allow(permission))],
        "openapi_extra": {"x-permission": permission},
    }


def require(feature: str) -> Callable[[access.Caller], access.Caller]:
    """A dependency that lets a request through only if the tenant may use `feature` (its plan,
    an override or a flag: app_plane.features)."""

    def check(caller: CallerDep) -> access.Caller:
        answer = features.ask(feature, tenant_id=caller.tenant_id, tenant_key=caller.tenant_key)
        if answer.enabled:
            return caller
        if answer.reason == "ERROR":
            raise problems.Problem(
                503, "Features unavailable", str(answer.error), headers={"Retry-After": "2"}
            )
        if answer.reason == "NOT_IN_PLAN":
            title = "Not in your plan"
            detail = (
                f"the {feature!r} feature is not in the {answer.tier!r} plan; "
                f"plans that include it: {', '.join(answer.plans) or 'none'}"
            )
        else:
            title = "Feature not available"
            detail = f"the {feature!r} feature is not available to this tenant ({answer.reason})"
        raise problems.Problem(
            403,
            title,
            detail,
            type_="https://tenantry.dev/problems/entitlement",
            feature=feature,
            plan=answer.tier,
            plans_with_feature=answer.plans,
            reason=answer.reason,
        )

    return check
