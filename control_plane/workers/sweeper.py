"""The sweeper: every few seconds, suspends past-due tenants whose billing grace ran out
(services.billing) and offboards closed tenants (offboarded by the API or canceled by billing)
whose offboarding grace ended (services.tenants), erases the users of tenants whose
offboarding completed (services.erasure) and queues the mail of finished app-plane
exports (services.exports); once a minute, purges expired records
(workers.housekeeping); at start-up and hourly, republishes every tenant's principals for the
app plane (services.principals) and the feature flags (services.flags). Started by
`control_plane.main`; wakes the outbox dispatcher when it recorded intents.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from control_plane.services import audit, billing, erasure, exports, flags, principals, tenants
from control_plane.workers import housekeeping

log = logging.getLogger(__name__)
ERASER = audit.Context(actor="tenantry:sweeper")


class Sweeper:
    """A thread that, every `every` seconds, suspends overdue tenants and offboards closed ones
    whose grace ended; and once a minute purges expired records."""

    HOUSEKEEPING_SECONDS = 60.0
    REPUBLISH_SECONDS = 3600.0

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        every: float = 5.0,
        wake: threading.Event | None = None,
        idempotency_ttl: dt.timedelta = dt.timedelta(hours=24),
    ) -> None:
        self.sessions, self.every, self.wake = sessions, every, wake
        self.idempotency_ttl = idempotency_ttl
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="billing-sweeper", daemon=True)

    def _run(self) -> None:
        last_housekeeping = last_republish = -self.REPUBLISH_SECONDS
        while not self.stopping.wait(self.every):
            try:
                now = dt.datetime.now(dt.UTC)
                with self.sessions() as session, session.begin():
                    changed = billing.suspend_overdue(session=session, now=now)
                    changed += tenants.offboard_expired(session=session, now=now)
                    erasure.erase_offboarded(session=session, ctx=ERASER)
                changed += self._notify_exports()
                if changed and self.wake:
                    self.wake.set()
                if time.monotonic() - last_housekeeping >= self.HOUSEKEEPING_SECONDS:
                    last_housekeeping = time.monotonic()
                    with self.sessions() as session, session.begin():
                        purged = housekeeping.purge(
                            session, now, idempotency_ttl=self.idempotency_ttl
                        )
                    if any(purged.values()):
                        log.info("housekeeping purged %s", purged)
                if time.monotonic() - last_republish >= self.REPUBLISH_SECONDS:
                    with self.sessions() as session:
                        count = principals.publish_all(session=session)
                        flags.publish_all(session=session)
                    last_republish = time.monotonic()
                    log.info("republished the principals of %d tenants", count)
            except Exception:
                log.exception("billing sweep failed")

    def _notify_exports(self) -> int:
        """Queue the mails of finished exports; 0 while the pool cannot be read."""
        try:
            with self.sessions() as session:
                return exports.notify_ready(session=session)
        except SQLAlchemyError:
            log.exception("could not read the finished exports")
            return 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
