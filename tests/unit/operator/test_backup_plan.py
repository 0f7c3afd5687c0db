"""backup_plan: the interval a Tier's backup schedule means, the slot a moment falls in, the
backup due in it, and which backups pruning removes."""

from __future__ import annotations

import datetime as dt

import pytest
from tenantry_operator import backup_plan

UID = "0123abcd-0000-0000-0000-000000000000"
NOON = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [("30s", 30), ("15m", 900), ("6h", 21600), ("1d12h", 129600), ("1h30m", 5400)],
)
def test_an_interval_is_the_sum_of_its_units(schedule: str, seconds: int) -> None:
    assert backup_plan.interval_seconds(schedule) == seconds


@pytest.mark.parametrize("schedule", ["", "6", "h", "0s", "6 h", "every day", "0 3 * * *", "1w"])
def test_anything_else_is_refused_with_what_is_expected(schedule: str) -> None:
    with pytest.raises(backup_plan.InvalidSchedule, match="interval such as 30s"):
        backup_plan.interval_seconds(schedule)


def test_a_tier_spec_gives_the_schedule_and_how_many_to_keep() -> None:
    assert backup_plan.Schedule.from_spec({"isolation": "pool"}) is None
    found = backup_plan.Schedule.from_spec({"backup": {"schedule": "6h", "retain": 3}})
    assert found == backup_plan.Schedule(every=21600, retain=3)
    assert backup_plan.Schedule.from_spec({"backup": {"schedule": "1d"}}) == (
        backup_plan.Schedule(every=86400, retain=7)
    )
    with pytest.raises(backup_plan.InvalidSchedule, match="at least 1"):
        backup_plan.Schedule.from_spec({"backup": {"schedule": "1d", "retain": 0}})


def test_slots_are_counted_from_the_epoch() -> None:
    assert backup_plan.slot_start(3600, NOON + dt.timedelta(minutes=59)) == NOON
    assert backup_plan.slot_start(3600, NOON + dt.timedelta(minutes=60)) == NOON + dt.timedelta(
        hours=1
    )
    assert backup_plan.slot_start(5, NOON + dt.timedelta(seconds=7)) == NOON + dt.timedelta(
        seconds=5
    )


def test_a_backup_is_named_after_its_tenant_uid_and_slot() -> None:
    assert backup_plan.name("acme", UID, NOON) == "acme-0123abcd-backup-20261124120000"
    assert backup_plan.name("acme", UID, NOON).startswith(backup_plan.prefix("acme", UID))


def test_a_backup_is_due_once_per_slot() -> None:
    now = NOON + dt.timedelta(seconds=10)
    wanted = backup_plan.due(60, [], "acme", UID, now)
    assert wanted == "acme-0123abcd-backup-20261124120000"
    assert backup_plan.due(60, [wanted], "acme", UID, now + dt.timedelta(seconds=40)) == ""
    later = backup_plan.due(60, [wanted], "acme", UID, now + dt.timedelta(seconds=50))
    assert later == "acme-0123abcd-backup-20261124120100"


def test_pruning_removes_the_oldest_beyond_retain_never_one_in_use() -> None:
    taken = [backup_plan.name("acme", UID, NOON + dt.timedelta(hours=h)) for h in (3, 0, 2, 1)]
    oldest, second = taken[1], taken[3]
    assert backup_plan.to_prune(taken, 2) == [oldest, second]
    assert backup_plan.to_prune(taken, 2, in_use={oldest}) == [second]
    assert backup_plan.to_prune(taken, 4) == []
    assert backup_plan.to_prune([], 1) == []
