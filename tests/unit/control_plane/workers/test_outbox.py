"""The outbox's failure accounting (workers.outbox): backoff, then a dead letter."""

from __future__ import annotations

import datetime as dt

from control_plane import models
from control_plane.integrations import kube
from control_plane.workers import outbox


def test_backoff_doubles_up_to_thirty_seconds() -> None:
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 7, 20)] == [0.5, 1, 2, 30, 30]


def test_a_failed_entry_is_retried_later_until_its_last_attempt_makes_it_dead() -> None:
    entry = models.OutboxEntry(id=1, action="apply_tenant", attempts=0)
    before = dt.datetime.now(dt.UTC)
    outbox.failed_attempt(entry, kube.KubeUnavailable("connection refused"), max_attempts=3)
    assert (entry.attempts, entry.last_error, entry.dead_at) == (1, "connection refused", None)
    assert entry.next_attempt_at >= before + dt.timedelta(seconds=0.5)
    outbox.failed_attempt(entry, RuntimeError("boom"), max_attempts=3)
    assert (entry.attempts, entry.last_error, entry.dead_at) == (2, "RuntimeError: boom", None)
    outbox.failed_attempt(entry, RuntimeError("boom"), max_attempts=3)
    assert entry.attempts == 3
    assert entry.dead_at is not None
    assert entry.dead_at >= before


def test_an_attempts_span_says_what_became_of_the_entry() -> None:
    now = dt.datetime.now(dt.UTC)
    entry = models.OutboxEntry(id=1, action="apply_tenant", attempts=1)
    assert outbox.result(entry) == "retry"
    entry.processed_at = now
    assert outbox.result(entry) == "processed"
    entry.last_error = "skipped: the tenant is offboarding"
    assert outbox.result(entry) == "closed"
    assert outbox.result(models.OutboxEntry(id=2, action="x", dead_at=now)) == "dead"
