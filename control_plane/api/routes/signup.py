"""`POST /signup`: self-service creation of a tenant and its owner."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, status

from control_plane import schemas
from control_plane.api import deps
from control_plane.core import security
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
    dispatcher: deps.DispatcherDep,
) -> schemas.SignupPublic:
    tenant = tenants.signup(session, data=data, tiers=tiers.self_service())
    if dispatcher:
        dispatcher.wake.set()
    expires = dt.timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    token = security.create_access_token(
        tenants.owner_principal(tenant),
        secret=settings.SECRET_KEY,
        issuer=settings.JWT_ISSUER,
        audience=settings.JWT_AUDIENCE,
        expires=expires,
    )
    return schemas.SignupPublic(
        tenant=schemas.TenantPublic.model_validate(tenant),
        token=schemas.Token(access_token=token, expires_in=int(expires.total_seconds())),
    )
