"""bench.suite: which benchmarks run, and what a failing one does to the run."""

from __future__ import annotations

from typing import Any

import pytest

from bench import report, suite


def _fake(name: str) -> Any:
    def run(_platform: object, *, quick: bool) -> list[report.Figure]:
        if name == "broken":
            raise TimeoutError("not ready in time")
        return [report.figure(f"{name} quick={quick}", 1.0, "s")]

    return run


@pytest.fixture
def benchmarks(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = {name: _fake(name) for name in ("first", "broken", "last")}
    monkeypatch.setattr(suite, "BENCHMARKS", fakes)


@pytest.mark.usefixtures("benchmarks")
def test_a_failing_benchmark_is_recorded_and_the_others_still_run() -> None:
    failed: list[str] = []
    figures = suite.run(object(), quick=True, failed=failed)  # type: ignore[arg-type]
    assert [f.name for f in figures] == ["first quick=True", "last quick=True"]
    assert failed == ["broken: TimeoutError('not ready in time')"]


@pytest.mark.usefixtures("benchmarks")
def test_without_a_failure_list_a_failing_benchmark_stops_the_run() -> None:
    with pytest.raises(TimeoutError):
        suite.run(object(), quick=True)  # type: ignore[arg-type]


@pytest.mark.usefixtures("benchmarks")
def test_only_the_named_benchmarks_run_and_unknown_names_are_refused() -> None:
    figures = suite.run(object(), quick=False, names=["last"])  # type: ignore[arg-type]
    assert [f.name for f in figures] == ["last quick=False"]
    with pytest.raises(ValueError, match="no such benchmark: nope"):
        suite.run(object(), quick=False, names=["nope"])  # type: ignore[arg-type]
