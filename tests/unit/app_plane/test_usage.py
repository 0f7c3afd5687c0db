"""Usage metering: calls are counted in memory, and a failed write keeps them for the next."""

import datetime as dt
from collections.abc import Mapping

import pytest
import sqlalchemy as sa

from app_plane import usage

Calls = Mapping[tuple[str, dt.date], int]


class FakeRecorder:
    """`usage.record` at our own boundary: keeps what it was given; fails while `down`."""

    def __init__(self) -> None:
        self.written: list[dict[tuple[str, dt.date], int]] = []
        self.down = False

    def __call__(self, calls: Calls) -> None:
        if self.down:
            raise sa.exc.OperationalError("INSERT INTO tenantry.usage", {}, ConnectionError())
        self.written.append(dict(calls))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> FakeRecorder:
    fake = FakeRecorder()
    monkeypatch.setattr(usage, "record", fake)
    return fake


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def test_calls_are_counted_per_tenant_and_day(recorder: FakeRecorder) -> None:
    meter = usage.Meter()
    for tenant in ("acme", "acme", "zeta"):
        meter.count(tenant)
    assert meter.flush() == 3
    assert recorder.written == [{("acme", today()): 2, ("zeta", today()): 1}]
    assert meter.flush() == 0
    assert len(recorder.written) == 1, "nothing new, nothing written"


def test_a_failed_flush_keeps_the_counts_for_the_next(recorder: FakeRecorder) -> None:
    meter = usage.Meter()
    meter.count("acme")
    recorder.down = True
    assert meter.flush() == 0
    meter.count("acme")
    recorder.down = False
    assert meter.flush() == 2
    assert recorder.written == [{("acme", today()): 2}]
