"""Every benchmark, run one after another against one platform; and that platform.

`bench.__main__` (`make bench`, `python -m bench [--quick] [NAME ...]`) starts the platform with
`start()` and calls `run()`; `tests/integration/test_bench_quick.py` calls `run()` in quick mode
against the test session's platform. The fleet benchmark runs last: its burst of tenants must
not weigh on the others' figures.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench import api, appplane, fleet, migration, provisioning, report, signup
from localplatform import stack

BENCHMARKS: dict[str, Callable[..., list[report.Figure]]] = {
    "provisioning": provisioning.run,
    "api": api.run,
    "appplane": appplane.run,
    "signup": signup.run,
    "migration": migration.run,
    "fleet": fleet.run,
}
# A burst of signups from one address: far more than a person would, so the limits go.
SIGNUP_LIMITS = {"SIGNUP_PER_CLIENT_PER_MINUTE": "100000", "SIGNUP_GLOBAL_PER_MINUTE": "100000"}


def run(platform: stack.Platform, *, quick: bool, names: Sequence[str] = ()) -> list[report.Figure]:
    """The figures of the benchmarks `names` (all by default), in the table's order."""
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise ValueError(f"no such benchmark: {', '.join(sorted(unknown))}")
    figures: list[report.Figure] = []
    for name, benchmark in BENCHMARKS.items():
        if not names or name in names:
            started = time.monotonic()
            figures += benchmark(platform, quick=quick)
            print(f"bench: {name} took {time.monotonic() - started:.0f} s", flush=True)
    return figures


@contextmanager
def start() -> Iterator[stack.Platform]:
    """A platform of its own in a temporary directory, with every component running."""
    with tempfile.TemporaryDirectory(prefix="tenantry-bench-") as state:
        platform = stack.Platform(Path(state), control_plane_env=SIGNUP_LIMITS)
        try:
            platform.start_infrastructure()
            platform.start_operator()
            platform.start_control_plane()
            platform.start_app_plane()
            yield platform
        finally:
            platform.stop()
