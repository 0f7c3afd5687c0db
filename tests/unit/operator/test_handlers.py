"""The convergence schedule, the mapping of children to their Tenant, and kopf's retry logs."""

import logging

from tenantry_operator import handlers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_resync_waits_the_interval_less_some_jitter() -> None:
    schedule = handlers.Schedule(rand=lambda: 1.0)
    assert schedule.delay(None, 20.0, 0.25) == 15.0
    assert handlers.Schedule(rand=lambda: 0.0).delay(None, 20.0, 0.25) == 20.0
    assert schedule.delay(0.5, 20.0, 0.25) == 0.5, "a retry asked for comes first"


def test_a_tenant_is_due_only_when_its_time_comes() -> None:
    clock = Clock()
    schedule = handlers.Schedule(clock=clock)
    assert not schedule.is_due("acme"), "a tenant nobody scheduled is not due"
    schedule.after("acme", 10.0)
    clock.now += 9.9
    assert not schedule.is_due("acme")
    clock.now += 0.1
    assert schedule.is_due("acme")
    schedule.forget("acme")
    assert not schedule.is_due("acme")


def test_a_changed_child_brings_its_tenant_forward_never_back() -> None:
    clock = Clock()
    schedule = handlers.Schedule(clock=clock)
    schedule.after("acme", 20.0)
    schedule.soon("acme")
    clock.now += handlers.SETTLE
    assert schedule.is_due("acme")
    schedule.after("acme", 0.0)
    schedule.soon("acme")
    assert schedule.is_due("acme"), "soon never postpones a tenant already due"


def test_the_daemon_start_keeps_what_a_reconcile_asked_for() -> None:
    clock = Clock()
    schedule = handlers.Schedule(clock=clock)
    schedule.after("acme", 0.5)
    schedule.start("acme", 20.0)
    clock.now += 0.5
    assert schedule.is_due("acme")
    schedule.start("new", 20.0)
    assert not schedule.is_due("new")


def test_one_lock_per_tenant() -> None:
    schedule = handlers.Schedule()
    assert schedule.lock("acme") is schedule.lock("acme")
    assert schedule.lock("acme") is not schedule.lock("globex")


def test_children_map_back_to_the_tenant_that_owns_them() -> None:
    owned = {
        "metadata": {
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-1"},
                {"apiVersion": "tenantry.dev/v1", "kind": "Tenant", "name": "acme"},
            ]
        }
    }
    assert handlers.tenant_of(owned) == "acme"
    assert handlers.tenant_of({"metadata": {}}) is None
    other = {"metadata": {"ownerReferences": [{"apiVersion": "x.dev/v1", "kind": "Tenant"}]}}
    assert handlers.tenant_of(other) is None


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)


def test_kopf_temporary_retries_are_warnings_not_errors() -> None:
    retry = record(logging.ERROR, "Handler 'delete_tenant' failed temporarily: waits")
    assert handlers.KopfLogs().filter(retry)
    assert (retry.levelno, retry.levelname) == (logging.WARNING, "WARNING")
    crash = record(logging.ERROR, "Handler 'delete_tenant' failed with an exception")
    assert handlers.KopfLogs().filter(crash)
    assert crash.levelno == logging.ERROR, "a real failure stays an ERROR"


def test_the_child_watch_succeeds_silently() -> None:
    quiet = record(logging.INFO, "Handler 'child-secrets' succeeded.")
    assert not handlers.KopfLogs().filter(quiet)
    loud = record(logging.INFO, "Handler 'reconcile_tenant' succeeded.")
    assert handlers.KopfLogs().filter(loud)
