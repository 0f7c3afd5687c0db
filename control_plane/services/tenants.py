"""Tenant use cases: self-service signup and the Tenant resource a registry row stands for.

Signup writes the tenant, its owner and an outbox entry in one transaction; the outbox
dispatcher then applies the Tenant resource, so the intent is never lost nor applied twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_plane import models, schemas
from control_plane.core import permissions, security
from control_plane.services import audit, auth
from tenantry_core import enums, identity, problems, resources


def tenant_resource(tenant: models.Tenant) -> dict[str, Any]:
    """The Tenant custom resource the control plane owns for a registry row."""
    return {
        "apiVersion": resources.API_VERSION,
        "kind": resources.TENANT_KIND,
        "metadata": {
            "name": tenant.tenant_key,
            "labels": {
                resources.LABEL_TENANT_ID: str(tenant.id),
                resources.LABEL_MANAGED_BY: resources.CONTROL_PLANE_FIELD_MANAGER,
            },
        },
        "spec": {
            "tier": tenant.tier,
            "displayName": tenant.company,
            "suspended": tenant.suspended,
            **({"owner": {"email": tenant.owner_email}} if tenant.owner_email else {}),
        },
    }


def signup(
    session: Session, ctx: audit.Context, *, data: schemas.SignupCreate, tiers: set[str]
) -> tuple[models.Tenant, models.User]:
    """Create the tenant, its owner and the intent to provision it, or nothing at all."""
    if data.tier not in tiers:
        raise problems.Problem(
            422,
            "Unknown tier",
            f"tier {data.tier!r} is not offered",
            errors=[{"loc": ["body", "tier"], "msg": "unknown tier", "type": "value_error"}],
            allowed=sorted(tiers),
        )
    tenant_key = identity.from_company(data.company)
    conflict = session.scalar(
        select(models.Tenant.tenant_key).where(
            (models.Tenant.tenant_key == tenant_key)
            | (func.lower(models.Tenant.company) == data.company.lower())
        )
    )
    if conflict:
        raise problems.Problem(409, "Tenant exists", f"a tenant named {data.company!r} exists")
    if session.scalar(select(models.User.id).where(models.User.email == data.email.lower())):
        raise problems.Problem(409, "Email registered", "this email already has an account")
    tenant = models.Tenant(
        id=uuid.uuid4(),
        tenant_key=tenant_key,
        company=data.company,
        tier=data.tier,
        owner_email=data.email.lower(),
        source=models.Source.SIGNUP,
        phase=enums.Phase.PENDING,
        conditions=[],
    )
    session.add(tenant)
    owner = models.User(
        id=uuid.uuid4(),
        tenant=tenant,
        email=data.email.lower(),
        role=auth.builtin_role(session, permissions.OWNER),
        password_hash=security.hash_password(data.password),
    )
    session.add(owner)
    audit.record(
        session,
        audit.Context(f"user:{owner.id}", ctx.request_id, ctx.client_ip),
        "tenant.signup",
        tenant_id=tenant.id,
        resource=f"tenant:{tenant.id}",
        after={"company": data.company, "tier": data.tier, "owner": owner.email},
    )
    session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.APPLY_TENANT))
    session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.SYNC_BILLING))
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent signup won the race for the same name
        session.rollback()
        raise problems.Problem(
            409, "Tenant exists", f"a tenant named {data.company!r} exists"
        ) from exc
    return tenant, owner
