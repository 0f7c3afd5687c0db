"""Feature flags, per-tenant overrides and rollout rings: platform admins only, every change
audited and published to the app plane (services.flags; the rules are tenantry_core.flags).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from control_plane import models, schemas
from control_plane.api import deps
from control_plane.services import flags

router = APIRouter(tags=["feature flags"])

Key = Annotated[str, Path(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")]


@router.get("/flags", response_model=list[schemas.FlagPublic])
def list_flags(_: deps.PlatformAdmin, session: deps.SessionDep) -> list[models.FeatureFlag]:
    return flags.list_flags(session=session)


@router.get("/flags/{key}", response_model=schemas.FlagPublic)
def read_flag(key: Key, _: deps.PlatformAdmin, session: deps.SessionDep) -> models.FeatureFlag:
    return flags.get_flag(session=session, key=key)


@router.put("/flags/{key}", response_model=schemas.FlagPublic)
def put_flag(
    key: Key,
    data: schemas.FlagPut,
    _: deps.PlatformAdmin,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> models.FeatureFlag:
    """Create the flag named after a feature, or replace its targeting. While it exists, the
    feature reaches only the tenants it targets (and whose plan includes it, for a plan
    feature)."""
    return flags.put_flag(session=session, ctx=ctx, key=key, data=data)


@router.delete("/flags/{key}", status_code=status.HTTP_204_NO_CONTENT)
def delete_flag(
    key: Key, _: deps.PlatformAdmin, session: deps.SessionDep, ctx: deps.AuditDep
) -> None:
    """Remove the flag: the plans alone decide the feature again."""
    flags.delete_flag(session=session, ctx=ctx, key=key)


@router.get("/tenants/{tenant_id}/overrides", response_model=list[schemas.OverridePublic])
def list_overrides(
    _: deps.PlatformAdmin, access: deps.TenantReader, session: deps.SessionDep
) -> list[models.FeatureOverride]:
    return flags.list_overrides(session=session, tenant=access.tenant)


@router.put("/tenants/{tenant_id}/overrides/{feature}", response_model=schemas.OverridePublic)
def put_override(
    feature: Key,
    data: schemas.OverridePut,
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> models.FeatureOverride:
    """Grant (`enabled: true`) or remove the feature for this tenant, over its plan and flags."""
    return flags.set_override(
        session=session, ctx=ctx, tenant=access.tenant, feature=feature, data=data
    )


@router.delete("/tenants/{tenant_id}/overrides/{feature}", status_code=status.HTTP_204_NO_CONTENT)
def delete_override(
    feature: Key,
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> None:
    flags.remove_override(session=session, ctx=ctx, tenant=access.tenant, feature=feature)


@router.put("/tenants/{tenant_id}/ring", response_model=schemas.RingPublic)
def put_ring(
    data: schemas.RingPut,
    _: deps.PlatformAdmin,
    access: deps.TenantReader,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> schemas.RingPublic:
    """Put the tenant in a rollout ring: `internal` and `beta` get flags first, `all` last."""
    tenant = flags.set_ring(session=session, ctx=ctx, tenant=access.tenant, ring=data.ring)
    return schemas.RingPublic(tenant_id=tenant.id, ring=data.ring)
