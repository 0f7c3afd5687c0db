"""The CLI's pure formatting (tenantry_cli.views) with literal Tenant resources and Events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich import console

from tenantry_cli import views

NOW = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.UTC)


def tenant(name: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": "2026-11-24T09:00:00Z",
            "generation": 3,
            "labels": {"tenantry.dev/tenant-id": "4b1c6c4e-0000-4000-8000-000000000001"},
        },
        "spec": {"tier": "enterprise", "suspended": False},
        "status": status,
    }


READY = {"type": "Ready", "status": "True", "reason": "Ready", "message": "all good"}
SILO = {
    "phase": "Ready",
    "placement": "silo",
    "namespace": "tenant-acme",
    "observedGeneration": 3,
    "database": {"host": "127.0.0.1", "port": 5432, "name": "tenant_acme", "schema": "public"},
    "migration": {"phase": "Completed", "source": "pool", "target": "silo", "generation": 3},
    "conditions": [READY],
}


def test_age_reads_like_kubectl() -> None:
    assert views.age(NOW - dt.timedelta(seconds=42), NOW) == "42s"
    assert views.age(NOW - dt.timedelta(minutes=5, seconds=3), NOW) == "5m"
    assert views.age(NOW - dt.timedelta(hours=3), NOW) == "3h"
    assert views.age(NOW - dt.timedelta(days=2, hours=1), NOW) == "2d"
    assert views.age(NOW + dt.timedelta(seconds=5), NOW) == "0s"  # a clock ahead of ours
    assert views.age(None, NOW) == "<unknown>"


def test_tenant_rows_are_sorted_and_show_tier_placement_phase_ready_and_age() -> None:
    rows = views.tenant_rows([tenant("zeta", **SILO), {"metadata": {"name": "alpha"}}], NOW)
    assert rows == [
        {
            "name": "alpha",
            "tier": "",
            "placement": "",
            "phase": "Pending",
            "ready": "Unknown",
            "age": "<unknown>",
        },
        {
            "name": "zeta",
            "tier": "enterprise",
            "placement": "silo",
            "phase": "Ready",
            "ready": "True",
            "age": "3h",
        },
    ]


def test_description_has_conditions_events_data_migration_and_billing() -> None:
    event = {
        "type": "Warning",
        "reason": "MigrationFailed",
        "message": "verification failed",
        "count": 2,
        "lastTimestamp": "2026-11-24T11:59:00Z",
    }
    found = views.description(
        tenant("acme", **SILO), [event], {"billing_state": "active", "lifecycle": "active"}, NOW
    )
    assert found["tenant_id"] == "4b1c6c4e-0000-4000-8000-000000000001"
    assert found["data"] == {
        "placement": "silo",
        "database": "tenant_acme",
        "schema": "public",
        "host": "127.0.0.1",
        "port": 5432,
        "tenant_key": None,
    }
    assert found["migration"]["phase"] == "Completed"
    assert found["conditions"] == [
        {"type": "Ready", "status": "True", "reason": "Ready", "message": "all good"}
    ]
    assert found["events"] == [
        {
            "type": "Warning",
            "reason": "MigrationFailed",
            "age": "1m",
            "count": "2",
            "message": "verification failed",
        }
    ]
    assert found["billing"] == {"state": "active", "lifecycle": "active"}
    assert views.description(tenant("acme"), [], None, NOW)["billing"] is None
    assert views.description(tenant("acme"), [], None, NOW)["migration"] is None


def test_a_move_ends_ready_only_for_its_own_generation_and_failed_on_failure() -> None:
    moving = {**SILO, "migration": {"phase": "Copying", "generation": 3}}
    assert views.migration_finished(tenant("acme", **moving), 3) is None
    assert views.migration_finished(tenant("acme", **SILO), 3) == "Ready"
    assert views.migration_finished(tenant("acme", **SILO), 4) is None  # status is older
    failed = {**SILO, "migration": {"phase": "Failed", "generation": 3}}
    assert views.migration_finished(tenant("acme", **failed), 3) == "Failed"
    old_failure = {
        **SILO,
        "observedGeneration": 5,
        "migration": {"phase": "Failed", "generation": 2},
    }
    assert views.migration_finished(tenant("acme", **old_failure), 5) == "Ready"
    not_ready = {**SILO, "conditions": [{**READY, "status": "False"}]}
    assert views.migration_finished(tenant("acme", **not_ready), 3) is None
    assert views.failing(tenant("acme", **not_ready)) is None


def test_a_failed_step_is_not_the_end_of_a_move_but_says_why() -> None:
    """The operator retries a failed step (phase Failed): the CLI waits, and names the reason."""
    step_failed = {
        **SILO,
        "phase": "Failed",
        "conditions": [
            {**READY, "status": "False", "reason": "ApplyFailed", "message": "409 Conflict"}
        ],
    }
    assert views.migration_finished(tenant("acme", **step_failed), 3) is None
    assert views.failing(tenant("acme", **step_failed)) == "ApplyFailed: 409 Conflict"
    assert views.failing(tenant("acme", **SILO)) is None


def test_outbox_rows_and_tables_render_every_column() -> None:
    entry = {
        "id": 7,
        "tenant_id": "t-1",
        "action": "apply_tenant",
        "attempts": 10,
        "created_at": "2026-11-24T11:00:00+00:00",
        "last_error": "connection refused",
    }
    row = views.outbox_row(entry, "dead", NOW)
    assert row == {
        "id": 7,
        "state": "dead",
        "tenant_id": "t-1",
        "action": "apply_tenant",
        "attempts": 10,
        "age": "1h",
        "last_error": "connection refused",
    }
    screen = console.Console(width=200, record=True)
    screen.print(views.grid("Outbox", views.OUTBOX_COLUMNS, [row]))
    screen.print(views.pairs("Data", {"database": None, "schema": "public"}))
    text = screen.export_text()
    for shown in ("LAST ERROR", "apply_tenant", "connection refused", "dead", "database", "-"):
        assert shown in text
