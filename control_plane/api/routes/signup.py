"""`POST /signup`: self-service creation of a tenant and its owner."""

from __future__ import annotations

from fastapi import APIRouter, status

from control_plane import schemas
from control_plane.api import deps
from control_plane.services import tenants

router = APIRouter(tags=["signup"])


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.SignupPublic,
    responses={
        409: {"description": "Company, slug or email already taken"},
        422: {"description": "Invalid body or unknown tier"},
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
    created = tenants.signup(
        session=session, ctx=ctx, settings=settings, data=data, offered=tiers.self_service()
    )
    wake()
    return created
