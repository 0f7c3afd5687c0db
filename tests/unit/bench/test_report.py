"""bench.report: targets, ratios and the two files of the benchmark table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report


def test_a_ratio_target_is_checked_against_the_same_run_baseline() -> None:
    met = report.figure("pool", 0.15, "s", baseline=0.1, ratio_at_most=1.5, at_most=0.2)
    assert (met.ratio, met.meets_target) == (1.5, True)
    assert met.target == "≤ 1.5x baseline, ≤ 0.2 s"
    missed = report.figure("pool", 0.16, "s", baseline=0.1, ratio_at_most=1.5, at_most=0.2)
    assert (missed.ratio, missed.meets_target) == (1.6, False)


def test_every_bound_must_hold() -> None:
    fast_but_slower_than_baseline = report.figure(
        "pool", 0.19, "s", baseline=0.1, ratio_at_most=1.5, at_most=0.2
    )
    assert fast_but_slower_than_baseline.meets_target is False
    throughput = report.figure("reads", 80, "req/s", baseline=100, ratio_at_least=0.7)
    assert (throughput.ratio, throughput.meets_target) == (0.8, True)
    assert report.figure("signups", 49.9, "signups/s", at_least=50).meets_target is False


def test_a_figure_without_a_target_or_baseline_says_so() -> None:
    bare = report.figure("healthz", 1.23456, "ms")
    assert (bare.baseline, bare.ratio, bare.target, bare.meets_target) == (None, None, None, None)
    assert bare.value == 1.23


def test_a_ratio_target_without_a_usable_baseline_is_not_met() -> None:
    assert report.figure("x", 1.0, "ms", baseline=0.0, ratio_at_most=2).meets_target is False


@pytest.mark.parametrize(
    ("value", "rounded"), [(0.0, 0.0), (0.123456, 0.123), (12.3456, 12.3), (12345.6, 12346)]
)
def test_values_keep_three_significant_digits(value: float, rounded: float) -> None:
    assert report.figure("x", value, "s").value == rounded


def test_percentile_is_the_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert report.percentile(samples, 0.5) == 51.0
    assert report.percentile(samples, 0.99) == 99.0
    assert report.percentile([3.0], 0.95) == 3.0


def test_the_files_hold_every_figure(tmp_path: Path) -> None:
    figures = [
        report.figure("pool", 0.3, "s", baseline=0.1, ratio_at_most=1.5),
        report.figure("errors", 0, "", at_most=0),
        report.figure("healthz", 2.0, "ms"),
    ]
    written = report.write(figures, quick=True, directory=tmp_path)
    doc = json.loads(written.read_text())
    assert set(doc) >= {"machine", "date", "commit", "figures"}
    assert [f["name"] for f in doc["figures"]] == ["pool", "errors", "healthz"]
    assert set(doc["figures"][0]) == {
        "name",
        "value",
        "unit",
        "baseline",
        "ratio",
        "target",
        "meets_target",
    }
    rows = (tmp_path / report.TABLE_FILE).read_text().splitlines()
    assert "| pool | 0.3 s | 0.1 | 3 | ≤ 1.5x baseline | **no** |" in rows
    assert "| errors | 0 | — | — | ≤ 0 | yes |" in rows
    assert "| healthz | 2 ms | — | — | — | — |" in rows


def test_the_table_says_when_the_machine_was_busy() -> None:
    doc = {
        "machine": {
            "cpus": 2,
            "memory_mb": 4096,
            "system": "Linux",
            "python": "3.11",
            "load_average_1m": 3.5,
        },
        "date": "2026-11-24T12:00:00+00:00",
        "commit": "abc",
        "mode": "full",
        "figures": [],
    }
    assert "under load" in report.table(doc)
    doc["machine"]["load_average_1m"] = 0.2  # type: ignore[index]
    assert "under load" not in report.table(doc)


def test_the_table_names_the_benchmarks_that_failed(tmp_path: Path) -> None:
    figures = [report.figure("healthz", 2.0, "ms")]
    report.write(figures, quick=False, failed=["fleet: TimeoutError()"], directory=tmp_path)
    assert json.loads((tmp_path / report.JSON_FILE).read_text())["failed"] == [
        "fleet: TimeoutError()"
    ]
    assert "Not measured: fleet: TimeoutError()" in (tmp_path / report.TABLE_FILE).read_text()
