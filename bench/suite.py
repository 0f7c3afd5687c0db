"""Every benchmark, run one after another against one platform; and that platform.

`bench.__main__` (`make bench`, `python -m bench [--quick] [NAME ...]`) starts the platform with
`start()` and calls `run()`; `tests/integration/test_bench_quick.py` calls `run()` in quick mode
against the test session's platform. The fleet benchmark runs last: its burst of tenants must
not weigh on the others' figures.
"""

from __future__ import annotations

import tempfile
import time
import traceback
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


def run(
    platform: stack.Platform,
    *,
    quick: bool,
    names: Sequence[str] = (),
    failed: list[str] | None = None,
) -> list[report.Figure]:
    """The figures of the benchmarks `names` (all by default), in the table's order, each
    printed as it comes. A benchmark that raises stops the run, unless `failed` is given: then
    its error is printed and added there, and the others still run."""
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise ValueError(f"no such benchmark: {', '.join(sorted(unknown))}")
    figures: list[report.Figure] = []
    for name, benchmark in BENCHMARKS.items():
        if names and name not in names:
            continue
        started = time.monotonic()
        try:
            produced = benchmark(platform, quick=quick)
        except Exception as exc:
            if failed is None:
                raise
            traceback.print_exc()
            failed.append(f"{name}: {exc!r}")
            continue
        for produced_figure in produced:
            print(f"bench: {produced_figure}", flush=True)
        figures += produced
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
