"""Events on a Tenant are filed where `kubectl describe` looks for them."""

import datetime as dt

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
