"""The outbox dispatcher: carries out the Kubernetes and Stripe intents that transactions
recorded (integrations.kube, integrations.stripe_sync).

Entries are claimed with `FOR UPDATE SKIP LOCKED`, so several control-plane replicas share the
work without applying an entry twice; a failed apply (API server down) is retried with backoff.
An entry of an offboarding tenant is closed without applying: a tenant deleted in Kubernetes is
never resurrected. Changes go only to the Tenant the row created (its uid, a precondition the API
server checks): one of the same name made by someone else is never applied over nor deleted, and
the entry is closed with the reason. Started by `control_plane.main`, which wakes it after a commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from control_plane import models
from control_plane.core import config
from control_plane.integrations import kube, stripe_sync

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(MAX_BACKOFF, 0.25 * 2**attempts))


def dispatch_once(
    sessions: sessionmaker[Session],
    *,
    field_manager: str,
    batch: int = 20,
    settings: config.Settings | None = None,
) -> int:
    """Process the due entries; returns how many were claimed."""
    with sessions() as session, session.begin():
        entries = session.scalars(
            select(models.OutboxEntry)
            .where(
                models.OutboxEntry.processed_at.is_(None),
                models.OutboxEntry.next_attempt_at <= func.now(),
            )
            .order_by(models.OutboxEntry.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        now = dt.datetime.now(dt.UTC)
        for entry in entries:
            tenant = entry.tenant
            deleting = entry.action == models.OutboxAction.DELETE_TENANT
            if tenant.lifecycle == models.Lifecycle.OFFBOARDING and not deleting:
                entry.processed_at, entry.last_error = now, "skipped: the tenant is offboarding"
                continue
            try:
                if entry.action == models.OutboxAction.SYNC_BILLING:
                    done = stripe_sync.sync(session, entry, settings or config.get_settings())
                    entry.processed_at, entry.last_error = now, None
                    entry.payload = {**(entry.payload or {}), "result": done}
                    continue
                if deleting:
                    # Only the Tenant this row created: never another one of the same name.
                    if tenant.cr_uid:
                        kube.delete_tenant(tenant.tenant_key, uid=tenant.cr_uid)
                    entry.processed_at, entry.last_error = now, None
                    continue
                applied = kube.apply_tenant(
                    kube.tenant_resource(tenant), field_manager=field_manager, uid=tenant.cr_uid
                )
            except kube.NameTaken as exc:  # never applied over a Tenant we did not create
                entry.processed_at, entry.last_error = now, f"not applied: {exc}"[:2000]
                log.warning("outbox entry %s for %s not applied: %s", entry.id, tenant.id, exc)
                continue
            except (kube.KubeUnavailable, stripe_sync.BillingUnavailable) as exc:
                entry.attempts += 1
                entry.last_error = str(exc)[:2000]
                entry.next_attempt_at = now + backoff(entry.attempts)
                log.warning(
                    "outbox entry %s for %s failed (attempt %s): %s",
                    entry.id,
                    tenant.tenant_key,
                    entry.attempts,
                    exc,
                )
                continue
            entry.processed_at, entry.last_error = now, None
            tenant.cr_uid = applied["metadata"]["uid"]
        return len(entries)


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
