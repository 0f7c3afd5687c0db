"""Events on a Tenant are filed where `kubectl describe` looks for them; what an apply reports
as changed; and a resync sends nothing for a child the watch shows unchanged."""

import datetime as dt
import time
from typing import Any

from tenantry_operator import apply, conditions

TENANT = {
    "apiVersion": "tenantry.dev/v1",
    "kind": "Tenant",
    "metadata": {"name": "acme", "uid": "u-1"},
}


def test_an_event_on_a_tenant_names_no_namespace_for_its_object() -> None:
    now = dt.datetime(2026, 1, 1, 10, 0, 0, tzinfo=dt.UTC)
    body = apply.event_body(TENANT, conditions.Event("Normal", "Ready", "Ready: done"), now)
    assert body["metadata"] == {"generateName": "acme.", "namespace": "default"}
    assert body["involvedObject"] == {
        "apiVersion": "tenantry.dev/v1",
        "kind": "Tenant",
        "name": "acme",
        "uid": "u-1",
    }
    assert (body["type"], body["reason"], body["message"]) == ("Normal", "Ready", "Ready: done")
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-01-01T10:00:00Z"


def test_a_long_message_is_shortened_in_the_middle() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    long = "a" * 600 + "b" * 600
    body = apply.event_body(TENANT, conditions.Event("Warning", "X", long), now)
    assert len(body["message"]) <= apply.MAX_EVENT_MESSAGE
    assert body["message"].startswith("a")
    assert body["message"].endswith("b")


def _meta(uid: str, *entries: dict[str, str]) -> dict[str, object]:
    return {"name": "tenant-quota", "uid": uid, "managedFields": list(entries)}


OURS = {"manager": apply.FIELD_MANAGER, "operation": "Apply", "time": "2026-01-01T10:00:00Z"}
LATER = {**OURS, "time": "2026-01-01T10:05:00Z"}
KUBECTL = {"manager": "kubectl-edit", "operation": "Update", "time": "2026-01-01T10:03:00Z"}
STATUS = {**OURS, "subresource": "status", "time": "2026-01-01T10:04:00Z"}


def test_an_apply_that_changed_nothing_is_not_reported() -> None:
    before = apply.Seen.of(_meta("u-1", OURS))
    # Another manager changed the object meanwhile (a quota's status): not our drift.
    assert before.change(apply.Seen.of(_meta("u-1", OURS, KUBECTL, STATUS))) is None


def test_an_apply_that_changed_the_object_moved_our_managers_time() -> None:
    before = apply.Seen.of(_meta("u-1", OURS, KUBECTL))
    assert before.change(apply.Seen.of(_meta("u-1", LATER))) == "changed"


def test_an_object_created_again_is_reported_missing() -> None:
    before = apply.Seen.of(_meta("u-1", OURS))
    assert before.change(apply.Seen.of(_meta("u-2", LATER))) == "missing"


def test_an_object_we_never_applied_has_no_time_of_ours() -> None:
    assert apply.Seen.of(_meta("u-1", KUBECTL)) == apply.Seen("u-1", None)


QUOTA: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ResourceQuota",
    "metadata": {"name": "tenant-quota", "namespace": "tenant-acme"},
    "spec": {"hard": {"pods": "10"}},
}
KEY = ("v1", "ResourceQuota", "tenant-acme", "tenant-quota")


def test_an_applied_object_is_still_so_only_while_the_watch_shows_our_version() -> None:
    last = apply.Applied("d1", "7", at=100.0)
    assert last.still("d1", "7", now=101.0)
    assert not last.still("d2", "7", now=101.0), "something else is wanted now"
    assert not last.still("d1", "8", now=101.0), "someone changed it since"
    assert not last.still("d1", None, now=101.0), "deleted, or never seen by the watch"
    assert not last.still("d1", "7", now=100.0 + apply.FULL_EVERY), "applied again now and then"


def test_a_resync_sends_nothing_for_a_child_the_watch_shows_unchanged() -> None:
    # No API server here: any request would fail, so an empty answer means none was made.
    digest = apply._digest(QUOTA)
    apply._APPLIED[KEY] = apply.Applied(digest, "7", at=time.monotonic())
    try:
        apply.observed(
            {**QUOTA, "metadata": {**QUOTA["metadata"], "resourceVersion": "7"}}, deleted=False
        )
        assert apply.apply([QUOTA]) == []
        apply.observed(QUOTA, deleted=True)
        assert KEY not in apply._APPLIED, "deleted: applied again next time"
        assert KEY not in apply._LIVE
    finally:
        apply._APPLIED.pop(KEY, None)
        apply._LIVE.pop(KEY, None)
