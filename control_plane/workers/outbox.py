"""The outbox dispatcher: carries out the Kubernetes and Stripe intents and the mails that
transactions recorded (integrations.kube, integrations.stripe_sync, services.notices through
integrations.mailer; invitations and their one-time links, services.invitations; tenant
webhooks, services.webhooks through integrations.webhooks), and the outbox's Prometheus
metrics.

Entries are claimed with `FOR UPDATE SKIP LOCKED`, so several control-plane replicas share the
work without applying an entry twice. Each entry is claimed and carried out in a transaction of
its own, within a savepoint: any failure (API server down, a bug, an action nobody knows) is
retried with backoff, and after `OUTBOX_MAX_ATTEMPTS` failures the entry becomes a dead
letter, so one bad entry never blocks those after it. An entry of an offboarding tenant is
closed without applying (a mail is still sent): a tenant deleted in Kubernetes is never
resurrected. Changes go only to the Tenant the row created (its uid, a precondition the API
server checks): one of the same name made by someone else is never applied over nor deleted,
and the entry is closed with the reason. Each entry is carried out in a span (`outbox.deliver`)
that continues the trace the entry was written in, so the Tenant it applies carries that trace
on to the operator. Started by `control_plane.main`, which wakes it after a commit and registers
`Metrics` for its /metrics.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Iterator

from prometheus_client import registry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from control_plane import models
from control_plane.core import config
from control_plane.core import webhooks as webhook_signing
from control_plane.integrations import kube, mailer, stripe_sync
from control_plane.integrations import webhooks as webhook_http
from control_plane.services import invitations, notices, webhooks
from control_plane.services import outbox as outbox_service
from tenantry_core import tracing

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(MAX_BACKOFF, 0.25 * 2**attempts))


class UnknownAction(Exception):
    """An entry whose action this dispatcher does not know: it can only go dead."""


def _apply(
    session: Session, entry: models.OutboxEntry, settings: config.Settings, field_manager: str
) -> None:
    """Carry out one entry (inside its savepoint); raises when it must be tried again."""
    tenant = entry.tenant
    now = dt.datetime.now(dt.UTC)
    if entry.action not in set(models.OutboxAction):
        raise UnknownAction(f"unknown action {entry.action!r}")
    deleting = entry.action == models.OutboxAction.DELETE_TENANT
    if entry.action == models.OutboxAction.SEND_MAIL:  # an offboarded tenant is told too
        entry.payload = {**(entry.payload or {}), "result": _send_mail(entry, settings)}
        entry.processed_at, entry.last_error = now, None
        return
    if entry.action == models.OutboxAction.DELIVER_WEBHOOK:  # an offboarded tenant is told too
        entry.last_error = _deliver_webhook(session, entry, settings)
        entry.processed_at = now
        return
    if tenant.lifecycle == models.Lifecycle.OFFBOARDING and not deleting:
        entry.processed_at, entry.last_error = now, "skipped: the tenant is offboarding"
        return
    if entry.action == models.OutboxAction.INVITE_OWNER:
        entry.payload = {**(entry.payload or {}), "result": _invite_owner(session, entry, settings)}
        entry.processed_at, entry.last_error = now, None
        return
    if entry.action == models.OutboxAction.SEND_INVITATION:
        invitation_id = uuid.UUID(str((entry.payload or {})["invitation_id"]))
        done = _mail_invitation(session, entry, settings, invitation_id, notices.Notice.INVITATION)
        entry.payload = {**(entry.payload or {}), "result": done}
        entry.processed_at, entry.last_error = now, None
        return
    if entry.action == models.OutboxAction.SYNC_BILLING:
        done = stripe_sync.sync(session, entry, settings)
        entry.processed_at, entry.last_error = now, None
        entry.payload = {**(entry.payload or {}), "result": done}
        return
    if deleting:
        # Only the Tenant this row created: never another one of the same name.
        if tenant.cr_uid:
            kube.delete_tenant(tenant.tenant_key, uid=tenant.cr_uid)
        entry.processed_at, entry.last_error = now, None
        return
    try:
        applied = kube.apply_tenant(
            kube.tenant_resource(tenant), field_manager=field_manager, uid=tenant.cr_uid
        )
    except kube.NameTaken as exc:  # never applied over a Tenant we did not create
        entry.processed_at, entry.last_error = now, f"not applied: {exc}"[:2000]
        log.warning("outbox entry %s for %s not applied: %s", entry.id, tenant.id, exc)
        return
    entry.processed_at, entry.last_error = now, None
    tenant.cr_uid = applied["metadata"]["uid"]


def _send_mail(entry: models.OutboxEntry, settings: config.Settings) -> str:
    """Render and send a notice (services.notices); its Message-ID is the entry's, so a message
    sent again after a crash before the commit is recognizably the same one."""
    payload = entry.payload or {}
    params = dict(payload.get("params") or {})
    template = notices.TEMPLATES[notices.Notice(payload["notice"])]
    if template.needs_portal:
        params["portal_url"] = _portal(entry.tenant, settings)
    subject, text, html = notices.render(payload["notice"], params)
    mailer.send(
        settings,
        to=str(payload["to"]),
        subject=subject,
        body=text,
        html=html,
        message_id=f"<outbox-{entry.id}.{entry.tenant_id}@tenantry>",
    )
    return f"sent {payload['notice']}"


def _deliver_webhook(
    session: Session, entry: models.OutboxEntry, settings: config.Settings
) -> str | None:
    """POST one event to its endpoint, its URL checked again (its host may resolve elsewhere
    now); None when delivered, else why the entry is closed unsent (the endpoint is gone or
    its URL is now refused). DeliveryFailed (no 2xx) is retried."""
    endpoint_id, event, body = webhooks.body(entry)
    endpoint = session.get(models.WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.tenant_id != entry.tenant_id:
        return "skipped: the webhook endpoint was removed"
    try:
        webhook_http.check(endpoint.url, allow_loopback=settings.WEBHOOK_ALLOW_LOOPBACK)
    except webhook_signing.UnsafeUrl as exc:
        return f"not sent: {exc}"
    secret = webhook_signing.unseal(
        config.signing_key(settings), endpoint.id, endpoint.secret_sealed
    )
    webhook_http.post(
        endpoint.url,
        secret=secret,
        event_id=str(event["id"]),
        event_type=str(event["type"]),
        body=body,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    return None


def _invite_owner(session: Session, entry: models.OutboxEntry, settings: config.Settings) -> str:
    """Invite the owner a Tenant made with kubectl names and mail the link. A retry after a
    failed mail makes a new invitation, as the first one was rolled back with the savepoint."""
    made = invitations.invite_owner(
        session=session,
        tenant=entry.tenant,
        expires=dt.timedelta(hours=settings.INVITATION_EXPIRE_HOURS),
    )
    if made is None:
        return "nothing to do: the owner is a member or invited"
    return _mail_invitation(session, entry, settings, made.id, notices.Notice.OWNER_INVITATION)


def _mail_invitation(
    session: Session,
    entry: models.OutboxEntry,
    settings: config.Settings,
    invitation_id: uuid.UUID,
    notice: notices.Notice,
) -> str:
    """Give the invitation its one-time token and mail the link (services.invitations): the
    token is only in the mail. A retry issues a new token (the failed one was rolled back)."""
    issued = invitations.issue_token(session=session, invitation_id=invitation_id)
    if issued is None:
        return f"nothing to do: invitation {invitation_id} was accepted, revoked or expired"
    invitation, token = issued
    separator = "&" if "?" in settings.INVITATION_URL else "?"
    subject, text, html = notices.render(
        notice,
        {
            "company": entry.tenant.company,
            "role": invitation.role.name,
            "hours": settings.INVITATION_EXPIRE_HOURS,
            "expires": notices.day(invitation.expires_at),
            "link": f"{settings.INVITATION_URL}{separator}token={token}",
        },
    )
    mailer.send(
        settings,
        to=invitation.email,
        subject=subject,
        body=text,
        html=html,
        message_id=f"<outbox-{entry.id}.{entry.tenant_id}@tenantry>",
    )
    return f"invitation {invitation.id} mailed"


def _portal(tenant: models.Tenant, settings: config.Settings) -> str:
    """A fresh customer-portal session for a message's link (the billing page without Stripe)."""
    if not settings.STRIPE_API_KEY or not tenant.stripe_customer_id:
        return settings.BILLING_RETURN_URL
    return stripe_sync.portal_url(settings, customer=tenant.stripe_customer_id)


def failed_attempt(entry: models.OutboxEntry, exc: Exception, *, max_attempts: int) -> None:
    """Count a failed attempt: try again after a backoff, or give up (a dead letter)."""
    now = dt.datetime.now(dt.UTC)
    entry.attempts += 1
    expected = isinstance(
        exc,
        kube.KubeUnavailable
        | stripe_sync.BillingUnavailable
        | mailer.MailUnavailable
        | webhook_http.DeliveryFailed,
    )
    entry.last_error = (str(exc) if expected else f"{type(exc).__name__}: {exc}")[:2000]
    if entry.attempts >= max_attempts:
        entry.dead_at = now
        log.error(
            "outbox entry %s (%s) is a dead letter after %s attempts: %s",
            entry.id,
            entry.action,
            entry.attempts,
            exc,
            exc_info=None if expected else exc,
        )
        return
    entry.next_attempt_at = now + backoff(entry.attempts)
    log.warning(
        "outbox entry %s (%s) failed (attempt %s): %s",
        entry.id,
        entry.action,
        entry.attempts,
        exc,
        exc_info=None if expected else exc,  # an unexpected failure keeps its traceback
    )


def result(entry: models.OutboxEntry) -> str:
    """What became of an entry after an attempt, for its span: processed, closed (processed
    without applying: see last_error), retry or dead."""
    if entry.dead_at is not None:
        return "dead"
    if entry.processed_at is None:
        return "retry"
    return "closed" if entry.last_error else "processed"


def _deliver(
    session: Session, entry: models.OutboxEntry, settings: config.Settings, field_manager: str
) -> None:
    """One attempt at an entry, in a span under the trace that wrote it."""
    with tracing.span(
        "outbox.deliver",
        parent=entry.traceparent,
        attributes={
            "tenantry.outbox.id": entry.id,
            "tenantry.outbox.action": entry.action,
            "tenantry.outbox.attempt": entry.attempts + 1,
            "tenantry.tenant_key": entry.tenant.tenant_key,
        },
    ) as span:
        try:
            with session.begin_nested():
                _apply(session, entry, settings, field_manager)
        except Exception as exc:  # any failure of one entry: its own retry or dead letter
            tracing.record_failure(exc)
            failed_attempt(entry, exc, max_attempts=settings.OUTBOX_MAX_ATTEMPTS)
        span.set_attribute("tenantry.result.reason", result(entry))


def dispatch_once(
    sessions: sessionmaker[Session],
    *,
    field_manager: str,
    batch: int = 20,
    settings: config.Settings | None = None,
) -> int:
    """Process up to `batch` due entries, each in a transaction of its own (what one did, such
    as an invitation it mailed, is committed before the next starts); returns how many were
    claimed."""
    settings = settings or config.get_settings()
    for claimed in range(batch):
        with sessions() as session, session.begin():
            entry = session.scalars(
                select(models.OutboxEntry)
                .where(
                    models.OutboxEntry.processed_at.is_(None),
                    models.OutboxEntry.dead_at.is_(None),
                    models.OutboxEntry.next_attempt_at <= func.now(),
                )
                .order_by(models.OutboxEntry.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if entry is None:
                return claimed
            _deliver(session, entry, settings, field_manager)
    return batch


class Dispatcher:
    """Runs `dispatch_once` in a thread: at once when woken, else every `poll` seconds."""

    def __init__(
        self, sessions: sessionmaker[Session], *, field_manager: str, poll: float = 1.0
    ) -> None:
        self.sessions, self.field_manager, self.poll = sessions, field_manager, poll
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                claimed = dispatch_once(self.sessions, field_manager=self.field_manager)
            except Exception:
                log.exception("outbox dispatch failed")
                claimed = 0
            if not claimed:
                self.wake.wait(self.poll)
                self.wake.clear()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=5)


class Metrics(registry.Collector):
    """The outbox's depth and oldest entry's age by state, read from the registry at scrape
    time (so every replica reports the same shared queue)."""

    def __init__(self, sessions: Callable[[], sessionmaker[Session]]) -> None:
        self.sessions = sessions  # called at each scrape: the database is configured by then

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "tenantry_outbox_entries",
            "Outbox entries by state (dead = dead letters)",
            labels=["state"],
        )
        age = GaugeMetricFamily(
            "tenantry_outbox_oldest_age_seconds",
            "Age of the oldest outbox entry in each state (0 when none)",
            labels=["state"],
        )
        try:
            with self.sessions()() as session:
                found = outbox_service.stats(session=session)
        except Exception:
            log.exception("outbox metrics unavailable")
            return
        for state, (count, oldest) in found.items():
            depth.add_metric([state], count)
            age.add_metric([state], oldest)
        yield depth
        yield age


_INSTALLED: list[Metrics] = []


def install_metrics(sessions: Callable[[], sessionmaker[Session]]) -> None:
    """Register `Metrics` with the default Prometheus registry, once per process."""
    if not _INSTALLED:
        _INSTALLED.append(Metrics(sessions))
        registry.REGISTRY.register(_INSTALLED[0])
