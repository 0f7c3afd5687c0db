"""A tenant's webhook endpoints and the events they receive.

Registration (`create`, `list_endpoints`, `delete`; audited) checks the URL (integrations.webhooks:
https to public addresses only) and seals the endpoint's secret, shown once. `emit` records an
event about one tenant's lifecycle as one `deliver_webhook` outbox entry per endpoint of that
tenant, in the caller's transaction, so an event is sent if and only if its change commits and
never to another tenant; `tenant_changed` turns a before/after view of a tenant into the
suspended, resumed and tier_changed events. workers.outbox delivers the entries (`body`).
Used by api.routes.webhooks, services.tenants, services.billing and workers.mirror.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_plane import models, schemas_webhooks
from control_plane.core import config, webhooks
from control_plane.integrations import webhooks as webhook_http
from control_plane.services import audit, errors

MAX_ENDPOINTS = 10


class Event(enum.StrEnum):
    TENANT_READY = "tenant.ready"
    TENANT_SUSPENDED = "tenant.suspended"
    TENANT_RESUMED = "tenant.resumed"
    TENANT_TIER_CHANGED = "tenant.tier_changed"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"


def create(
    *,
    session: Session,
    ctx: audit.Context,
    settings: config.Settings,
    tenant_id: uuid.UUID,
    data: schemas_webhooks.WebhookCreate,
) -> schemas_webhooks.WebhookCreated:
    """Register an endpoint; the answer holds its secret, shown this once."""
    try:
        webhook_http.check(data.url, allow_loopback=settings.WEBHOOK_ALLOW_LOOPBACK)
    except webhooks.UnsafeUrl as exc:
        raise errors.InvalidInput(
            "Webhook URL refused",
            f"{data.url!r} cannot be used: {exc}",
            field="url",
            reason=str(exc),
        ) from exc
    if len(list_endpoints(session=session, tenant_id=tenant_id)) >= MAX_ENDPOINTS:
        raise errors.Conflict("Too many webhooks", f"a tenant has at most {MAX_ENDPOINTS}")
    endpoint_id, secret = uuid.uuid4(), webhooks.new_secret()
    endpoint = models.WebhookEndpoint(
        id=endpoint_id,
        tenant_id=tenant_id,
        url=data.url,
        description=data.description,
        secret_sealed=webhooks.seal(config.signing_key(settings), endpoint_id, secret),
        created_by=ctx.actor,
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session=session,
        ctx=ctx,
        action="webhook.create",
        tenant_id=tenant_id,
        resource=f"webhook:{endpoint_id}",
        after={"url": data.url, "description": data.description},
    )
    session.commit()
    session.refresh(endpoint)
    public = schemas_webhooks.WebhookPublic.model_validate(endpoint)
    return schemas_webhooks.WebhookCreated(**public.model_dump(), secret=secret)


def list_endpoints(*, session: Session, tenant_id: uuid.UUID) -> list[models.WebhookEndpoint]:
    return list(
        session.scalars(
            select(models.WebhookEndpoint)
            .where(models.WebhookEndpoint.tenant_id == tenant_id)
            .order_by(models.WebhookEndpoint.created_at)
        )
    )


def delete(
    *, session: Session, ctx: audit.Context, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> None:
    """Remove an endpoint; its pending deliveries are closed unsent."""
    endpoint = session.get(models.WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.tenant_id != tenant_id:
        raise errors.NotFound("no such webhook")
    audit.record(
        session=session,
        ctx=ctx,
        action="webhook.delete",
        tenant_id=tenant_id,
        resource=f"webhook:{endpoint_id}",
        before={"url": endpoint.url, "description": endpoint.description},
    )
    session.delete(endpoint)
    session.commit()


def emit(session: Session, tenant: models.Tenant, event: Event, data: dict[str, Any]) -> int:
    """Queue `event` for each of the tenant's endpoints (in the caller's transaction)."""
    endpoints = session.scalars(
        select(models.WebhookEndpoint.id).where(models.WebhookEndpoint.tenant_id == tenant.id)
    ).all()
    created = int(dt.datetime.now(dt.UTC).timestamp())
    for endpoint_id in endpoints:
        session.add(
            models.OutboxEntry(
                tenant=tenant,
                action=models.OutboxAction.DELIVER_WEBHOOK,
                payload={
                    "endpoint_id": str(endpoint_id),
                    "event": {
                        "id": f"evt_{uuid.uuid4().hex}",
                        "type": str(event),
                        "created": created,
                        "tenant_id": str(tenant.id),
                        "data": {"tenant_id": str(tenant.id), "slug": tenant.tenant_key, **data},
                    },
                },
            )
        )
    return len(endpoints)


def tenant_changed(
    session: Session, tenant: models.Tenant, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """The events of a change of a tenant's `suspended` or `tier` (views of before and after)."""
    if before["suspended"] != after["suspended"]:
        event = Event.TENANT_SUSPENDED if after["suspended"] else Event.TENANT_RESUMED
        emit(session, tenant, event, {"suspended": after["suspended"]})
    if before["tier"] != after["tier"]:
        tiers = {"from": before["tier"], "to": after["tier"]}
        emit(session, tenant, Event.TENANT_TIER_CHANGED, tiers)


def body(entry: models.OutboxEntry) -> tuple[uuid.UUID, dict[str, Any], bytes]:
    """A delivery entry's endpoint id, event and the exact bytes to send (and sign)."""
    payload = entry.payload or {}
    event = dict(payload["event"])
    return uuid.UUID(str(payload["endpoint_id"])), event, json.dumps(event).encode()
