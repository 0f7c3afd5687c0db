"""`/tenants`: a tenant's registry record with the reconciliation status mirrored from its CR."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.core import problems

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.get(
    "/{tenant_id}",
    response_model=schemas.TenantPublic,
    responses={404: {"description": "No such tenant visible to the caller"}},
)
def read_tenant(
    tenant_id: uuid.UUID, session: deps.SessionDep, principal: deps.CurrentPrincipal
) -> schemas.TenantPublic:
    # The caller sees only its own tenant; another tenant's id is indistinguishable from none.
    tenant = session.get(models.Tenant, tenant_id) if tenant_id == principal.tenant_id else None
    if tenant is None:
        raise problems.Problem(404, "Not Found", "no such tenant")
    return schemas.TenantPublic.model_validate(tenant)
