"""A tenant's webhook endpoints: register (the secret shown once), list (no secret), remove.
The work is services.webhooks'; delivery is the outbox's (workers.outbox)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from control_plane import models, schemas_webhooks
from control_plane.api import deps
from control_plane.services import webhooks

router = APIRouter(prefix="/tenants/{tenant_id}/webhooks", tags=["webhooks"])


@router.get("", response_model=list[schemas_webhooks.WebhookPublic])
def list_webhooks(
    access: deps.WebhooksManager, session: deps.SessionDep
) -> list[models.WebhookEndpoint]:
    return webhooks.list_endpoints(session=session, tenant_id=access.tenant.id)


@router.post(
    "", response_model=schemas_webhooks.WebhookCreated, status_code=status.HTTP_201_CREATED
)
def create_webhook(
    data: schemas_webhooks.WebhookCreate,
    access: deps.WebhooksManager,
    session: deps.SessionDep,
    settings: deps.SettingsDep,
    ctx: deps.AuditDep,
) -> schemas_webhooks.WebhookCreated:
    """Register an endpoint for the tenant's lifecycle events (`tenant.ready`,
    `tenant.suspended`, `tenant.resumed`, `tenant.tier_changed`, `invoice.payment_failed`). The
    URL must be https to a public address (422 otherwise). `secret` (whsec_…) is shown only
    here: each delivery is signed with it in `Tenantry-Signature`."""
    return webhooks.create(
        session=session, ctx=ctx, settings=settings, tenant_id=access.tenant.id, data=data
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(
    webhook_id: uuid.UUID,
    access: deps.WebhooksManager,
    session: deps.SessionDep,
    ctx: deps.AuditDep,
) -> None:
    """Remove an endpoint; deliveries not yet made to it are dropped."""
    webhooks.delete(session=session, ctx=ctx, tenant_id=access.tenant.id, endpoint_id=webhook_id)
