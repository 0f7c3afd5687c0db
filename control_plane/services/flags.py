"""Platform admins' feature flags, per-tenant overrides and rollout rings (api.routes.flags).

Each change is audited and, before its transaction commits, the whole set (flags, overrides,
rings other than `all`) is published to the pool with a new version (integrations.app_db), where
running app-plane replicas pick it up within seconds. If the pool does not take it, nothing
changes. Changes take one advisory lock, so each publishes everything committed before it and
concurrent changes never lose one another. `publish_all` republishes (workers.sweeper, at
start-up): the pool's copy follows the registry even after a crash between the two commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.integrations import app_db
from control_plane.services import audit, errors, features
from tenantry_core import flags

_LOCK = 0x464C4147  # "FLAG": serializes flag changes and their publication


def list_flags(*, session: Session) -> list[models.FeatureFlag]:
    return list(session.scalars(select(models.FeatureFlag).order_by(models.FeatureFlag.key)))


def get_flag(*, session: Session, key: str) -> models.FeatureFlag:
    flag = session.get(models.FeatureFlag, key)
    if flag is None:
        raise errors.NotFound(f"no flag {key!r}")
    return flag


def _state(flag: models.FeatureFlag) -> dict[str, Any]:
    return schemas.FlagPut.model_validate(flag, from_attributes=True).model_dump(mode="json")


def put_flag(
    *, session: Session, ctx: audit.Context, key: str, data: schemas.FlagPut
) -> models.FeatureFlag:
    """Create the flag or replace its targeting."""
    _lock(session)
    unknown = set(data.tenants) - set(
        session.scalars(select(models.Tenant.id).where(models.Tenant.id.in_(data.tenants)))
    )
    if unknown:
        raise errors.InvalidInput(
            "Unknown tenant",
            f"no tenant has the id {sorted(map(str, unknown))[0]}",
            field="tenants",
            reason="unknown tenant",
        )
    flag = session.get(models.FeatureFlag, key)
    before = _state(flag) if flag is not None else None
    if flag is None:
        flag = models.FeatureFlag(key=key)
        session.add(flag)
    flag.description, flag.enabled = data.description, data.enabled
    flag.tenants, flag.ring, flag.percentage = sorted(set(data.tenants)), data.ring, data.percentage
    flag.updated_at = dt.datetime.now(dt.UTC)
    session.flush()
    session.refresh(flag)
    action = "flag.update" if before else "flag.create"
    _audit(session, ctx, action, None, f"flag:{key}", before, _state(flag))
    _publish_and_commit(session)
    return flag


def delete_flag(*, session: Session, ctx: audit.Context, key: str) -> None:
    _lock(session)
    flag = get_flag(session=session, key=key)
    _audit(session, ctx, "flag.delete", None, f"flag:{key}", _state(flag), None)
    session.delete(flag)
    _publish_and_commit(session)


def list_overrides(*, session: Session, tenant: models.Tenant) -> list[models.FeatureOverride]:
    return list(
        session.scalars(
            select(models.FeatureOverride)
            .where(models.FeatureOverride.tenant_id == tenant.id)
            .order_by(models.FeatureOverride.feature)
        )
    )


def set_override(
    *,
    session: Session,
    ctx: audit.Context,
    tenant: models.Tenant,
    feature: str,
    data: schemas.OverridePut,
) -> models.FeatureOverride:
    """Grant or remove `feature` for the tenant, whatever its plan and the flags say."""
    _lock(session)
    found = session.get(models.FeatureOverride, (tenant.id, feature))
    before = {"enabled": found.enabled, "reason": found.reason} if found else None
    if found is None:
        found = models.FeatureOverride(tenant_id=tenant.id, feature=feature)
        session.add(found)
    found.enabled, found.reason = data.enabled, data.reason
    session.flush()
    session.refresh(found)
    after = {"enabled": found.enabled, "reason": found.reason}
    _audit(session, ctx, "feature.override", tenant.id, f"feature:{feature}", before, after)
    _publish_and_commit(session)
    return found


def remove_override(
    *, session: Session, ctx: audit.Context, tenant: models.Tenant, feature: str
) -> None:
    """Let the plan and the flags decide `feature` for the tenant again."""
    _lock(session)
    found = session.get(models.FeatureOverride, (tenant.id, feature))
    if found is None:
        raise errors.NotFound(f"the tenant has no override of {feature!r}")
    before = {"enabled": found.enabled, "reason": found.reason}
    _audit(session, ctx, "feature.override_remove", tenant.id, f"feature:{feature}", before, None)
    session.delete(found)
    _publish_and_commit(session)


def set_ring(
    *, session: Session, ctx: audit.Context, tenant: models.Tenant, ring: str
) -> models.Tenant:
    """Put the tenant in a rollout ring (internal and beta get flags first; all is the rest)."""
    _lock(session)
    before = {"ring": tenant.ring}
    tenant.ring = flags.Ring(ring).value
    _audit(session, ctx, "tenant.ring", tenant.id, f"tenant:{tenant.id}", before, {"ring": ring})
    _publish_and_commit(session)
    return tenant


def publish_all(*, session: Session) -> None:
    """Republish everything as the registry holds it (committed; the lock held meanwhile)."""
    session.rollback()
    _lock(session)
    _publish_and_commit(session)


def _lock(session: Session) -> None:
    session.execute(select(func.pg_advisory_xact_lock(_LOCK)))


def _audit(
    session: Session,
    ctx: audit.Context,
    action: str,
    tenant_id: uuid.UUID | None,
    resource: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    audit.record(
        session=session,
        ctx=ctx,
        action=action,
        tenant_id=tenant_id,
        resource=resource,
        before=before,
        after=after,
    )


def _publish_and_commit(session: Session) -> None:
    session.flush()
    overrides = session.execute(
        select(
            models.FeatureOverride.tenant_id,
            models.FeatureOverride.feature,
            models.FeatureOverride.enabled,
        )
    ).all()
    rings = session.execute(
        select(models.Tenant.id, models.Tenant.ring).where(
            models.Tenant.ring != flags.Ring.ALL.value, models.Tenant.offboarded_at.is_(None)
        )
    ).all()
    try:
        app_db.publish_flags(
            flag_list=[features.as_flag(f) for f in list_flags(session=session)],
            overrides=[(t, f, e) for t, f, e in overrides],
            rings=[(t, r) for t, r in rings],
        )
    except app_db.FlagsUnavailable as exc:
        session.rollback()
        raise errors.Unavailable(
            "Flags unavailable",
            "the app plane's copy of the flags could not be updated; nothing was changed",
            retry_after=5,
        ) from exc
    session.commit()
