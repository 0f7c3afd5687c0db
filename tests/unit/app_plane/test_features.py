"""The app plane's flag cache: the version alone is asked at most every `every` seconds, and
everything is reloaded only when it moved (a scripted connection stands for the pool)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import pytest
import sqlalchemy as sa

from app_plane import features
from tenantry_core import flags

TENANT = "00000000-0000-0000-0000-0000000000aa"


@dataclass
class Row:
    key: str = "new-ui"
    enabled: bool = True
    tenants: tuple[str, ...] = ()
    ring: str | None = "beta"
    percentage: int = 10
    tenant_id: str = TENANT
    feature: str = "export"


class Result(list[Any]):
    def scalar(self) -> Any:
        return self[0]


class Pool:
    """Answers the cache's statements from `version`; records which table each one read."""

    def __init__(self) -> None:
        self.version, self.asked = 1, list[str]()

    def execute(self, statement: sa.TextClause) -> Result:
        sql = str(statement)
        self.asked.append(sql.split(" FROM ")[1].split()[0])
        if sql.startswith("SELECT version"):
            return Result([self.version])
        if flags.FLAGS_TABLE in sql:
            return Result([Row(percentage=self.version * 10)])
        if flags.OVERRIDES_TABLE in sql:
            return Result([Row(enabled=False)])
        return Result([Row(ring="internal")])


def test_the_version_is_asked_at_most_every_few_seconds_and_a_change_reloads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = iter([100.0, 100.0, 100.5, 101.2, 101.2, 102.5, 102.5])
    monkeypatch.setattr(time, "monotonic", lambda: next(now))
    pool = Pool()
    conn = cast(sa.Connection, pool)
    cache = features.Cache(every=1.0)

    first = cache.current(conn)
    assert first.rollouts["new-ui"] == flags.Flag("new-ui", True, frozenset(), flags.Ring.BETA, 10)
    assert first.overrides == {TENANT: {"export": False}}
    assert first.rings == {TENANT: flags.Ring.INTERNAL}
    assert len(pool.asked) == 4  # the version, then the three tables
    assert cache.current(conn) is first  # within a second: nothing asked
    assert len(pool.asked) == 4
    assert cache.current(conn) is first  # the version did not move: nothing reloaded
    assert pool.asked[4:] == [flags.STATE_TABLE]
    pool.version = 2
    assert cache.current(conn).rollouts["new-ui"].percentage == 20
    assert len(pool.asked) == 9
    assert next(now, None) is None
