"""`POST /signup`: self-service creation of a tenant and its owner, limited per client address
and for all clients together (`tenantry_core.gcra`, answered 429 with Retry-After)."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, status

from control_plane import schemas
from control_plane.api import deps
from control_plane.services import tenants

router = APIRouter(tags=["signup"])


def client_key(address: str | None) -> str:
    """The rate-limit key of a client address: the address itself for IPv4, its /64 for IPv6
    (one host usually holds a whole /64)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return f"signup:{address or 'unknown'}"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"signup:{parsed.ipv4_mapped}"
        return f"signup:{ipaddress.IPv6Network((parsed, 64), strict=False)}"
    return f"signup:{parsed}"


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.SignupPublic,
    responses={
        402: {"description": "The tier needs a payment method: sign up on another, then change"},
        403: {"description": "The tier is not self-service"},
        409: {"description": "Company, slug or email not available (no other account is named)"},
        422: {"description": "Invalid body or unknown tier"},
        429: {"description": "Too many signups from this client, or from all (see Retry-After)"},
    },
)
def signup(
    data: schemas.SignupCreate,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    tiers: deps.TiersDep,
    wake: deps.WakeDep,
    ctx: deps.AuditDep,
) -> schemas.SignupPublic:
    """Create a tenant and its owner, and mail the owner a link that verifies their email; a
    tier beyond `UNVERIFIED_TIER` is provisioned once it is opened (`requested_tier` until
    then). Attempts are limited per client address (`SIGNUP_PER_CLIENT_PER_MINUTE`) and for all
    clients (`SIGNUP_GLOBAL_PER_MINUTE`)."""
    deps.spend(
        client_key(ctx.client_ip),
        settings.SIGNUP_PER_CLIENT_PER_MINUTE,
        "too many signups from this address; wait and retry",
        policy="signup",
    )
    deps.spend(
        "signup:*",
        settings.SIGNUP_GLOBAL_PER_MINUTE,
        "too many signups right now; wait and retry",
        policy="signup-global",
    )
    created = tenants.signup(
        session=session,
        ctx=ctx,
        settings=settings,
        data=data,
        offered=tiers.self_service(),
        catalog=tiers,
    )
    wake()
    return created
