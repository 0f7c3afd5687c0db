"""The mapping of children to their Tenant, and kopf's retry logs."""

import logging

from tenantry_operator import handlers


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


def test_a_creation_offered_again_after_its_reconcile_is_not_reconciled_twice() -> None:
    fresh = {"metadata": {"name": "acme", "generation": 1}}
    assert not handlers.already_reconciled(fresh)
    done = {**fresh, "status": {"observedGeneration": 1}}
    assert handlers.already_reconciled(done)
    changed = {"metadata": {"name": "acme", "generation": 2}, "status": {"observedGeneration": 1}}
    assert not handlers.already_reconciled(changed), "a new generation is reconciled"
