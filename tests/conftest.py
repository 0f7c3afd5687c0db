"""Shared test helpers: polling with a deadline (never a fixed sleep), and the order in which
`make test`'s workers take the test files: the longest first."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

import pytest

T = TypeVar("T")

# The longest files, longest first (by a full run's --durations; `make test` and `make
# test-slow` each run their part of them). `make test` hands whole files to its two workers in
# collection order (xdist `--dist loadfile --no-loadscope-reorder`), so these start first and no
# worker is left running one of them alone at the end; then the other slow and integration
# files, then the unit tests.
LONGEST = (
    "test_migration.py",
    "test_terraform_provisioner.py",
    "test_silo.py",
    "test_schemathesis.py",
    "test_offboarding_migration.py",
    "test_faults.py",
    "test_sec_retained.py",
    "test_faults_postgres.py",
    "test_rbac.py",
    "test_crd_deletion.py",
    "test_snapshot_retry.py",
    "test_shard_moves.py",
    "test_billing.py",
    "test_dev_cli.py",
    "test_shards.py",
    "test_moves.py",
    "test_sec_credentials.py",
    "test_moves_killed.py",
    "test_bench_quick.py",
    "test_placement_moves.py",
    "test_lifecycle.py",
    "test_readme.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whole files, the longest first (`LONGEST`, then slow, integration, unit); a file's
    tests keep their order and stay together, so module fixtures are set up once."""
    first: dict[str, int] = {}
    rank: dict[str, tuple[int, int]] = {}
    for index, item in enumerate(items):
        name, integration = item.path.name, "integration" in item.path.parts
        first.setdefault(str(item.path), index)
        if integration and name in LONGEST:
            weight = (0, LONGEST.index(name))
        elif item.get_closest_marker("slow") is not None:
            weight = (1, 0)
        elif integration:
            weight = (2, 0)
        else:
            weight = (3, 0)
        rank[str(item.path)] = min(rank.get(str(item.path), weight), weight)
    items.sort(key=lambda item: (rank[str(item.path)], first[str(item.path)]))


# Waits are for correctness, not speed (speed is measured in bench/): each bound is doubled, as
# `make test` runs two platforms on a machine of two cores that may be busy with other work.
SLACK = 2.0


def eventually(
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns something truthy; fail with the last value after `timeout`
    times `SLACK`."""
    timeout *= SLACK
    deadline = time.monotonic() + timeout
    last: T | Literal[False] | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
