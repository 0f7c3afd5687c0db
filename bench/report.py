"""The benchmark table: one `Figure` per measured quantity, and its two files.

Each benchmark module (`bench.provisioning`, `bench.api`, ...) returns a list of Figures, built
with `figure()`, which works out the ratio to a same-run baseline and whether the target holds.
`bench.__main__` collects them and writes `bench/results/latest.json` and `latest.md` with
`write()`; `tests/integration/test_bench_quick.py` checks that quick mode produces every Figure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
JSON_FILE, TABLE_FILE = "latest.json", "latest.md"


@dataclasses.dataclass(frozen=True)
class Figure:
    """One row of the table. `ratio` is value / baseline where a baseline was measured in the
    same run; `target` says the target in words and `meets_target` whether it held (None where
    there is no target)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str | None = None
    meets_target: bool | None = None


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    at_most: float | None = None,
    at_least: float | None = None,
    ratio_at_most: float | None = None,
    ratio_at_least: float | None = None,
) -> Figure:
    """A Figure whose target is every bound given: on the value (`at_most`, `at_least`, in
    `unit`) and on its ratio to `baseline` (`ratio_at_most`, `ratio_at_least`)."""
    ratio = round(value / baseline, 2) if baseline else None
    bounds: list[tuple[str, float | None, bool]] = []
    if ratio_at_most is not None:
        bounds.append((f"≤ {ratio_at_most:g}x baseline", ratio, _le(ratio, ratio_at_most)))
    if ratio_at_least is not None:
        bounds.append((f"≥ {ratio_at_least:g}x baseline", ratio, _ge(ratio, ratio_at_least)))
    if at_most is not None:
        bounds.append((f"≤ {at_most:g} {unit}".rstrip(), value, value <= at_most))
    if at_least is not None:
        bounds.append((f"≥ {at_least:g} {unit}".rstrip(), value, value >= at_least))
    return Figure(
        name=name,
        value=_round(value),
        unit=unit,
        baseline=None if baseline is None else _round(baseline),
        ratio=ratio,
        target=", ".join(text for text, _, _ in bounds) or None,
        meets_target=all(ok for _, _, ok in bounds) if bounds else None,
    )


def _le(ratio: float | None, bound: float) -> bool:
    return ratio is not None and ratio <= bound


def _ge(ratio: float | None, bound: float) -> bool:
    return ratio is not None and ratio >= bound


def _round(value: float) -> float:
    """Three significant digits, enough for a table read on a noisy machine."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, 2 - math.floor(math.log10(abs(value)))))


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0..1) of `samples`."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> dict[str, Any]:
    """What the figures were taken on, and how busy it was as the run began."""
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) // 1024
    return {
        "cpus": cores,
        "memory_mb": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_1m": round(load, 2),
    }


def commit() -> str:
    """The checked-out commit, with `-dirty` when the tree has uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=RESULTS.parent, check=False
        )
        return done.stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def context() -> dict[str, Any]:
    """Where, when and from which commit a run is taken: read as it begins."""
    return {
        "machine": machine(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit(),
    }


def document(
    figures: Sequence[Figure],
    *,
    quick: bool,
    taken: dict[str, Any] | None = None,
    failed: Sequence[str] = (),
) -> dict[str, Any]:
    """latest.json's content; `taken` is the run's `context()` (now, by default), `failed`
    the benchmarks that raised instead of producing their figures."""
    return {
        **(taken or context()),
        "mode": "quick" if quick else "full",
        "figures": [dataclasses.asdict(f) for f in figures],
        **({"failed": list(failed)} if failed else {}),
    }


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def table(doc: dict[str, Any]) -> str:
    """latest.md: the figures as a Markdown table, with where and when they were taken."""
    host = doc["machine"]
    lines = [
        f"Taken {doc['date']} at commit {doc['commit']} ({doc['mode']} mode) on "
        f"{host['cpus']} cores, {host['memory_mb']} MB, {host['system']}, "
        f"Python {host['python']}.",
    ]
    if host["load_average_1m"] > host["cpus"] / 2:
        lines.append(
            f"The machine was shared and busy (load average {host['load_average_1m']} on "
            f"{host['cpus']} cores as the run began): the figures were taken under load."
        )
    lines += [
        "",
        "| Figure | Value | Baseline (same run) | Ratio | Target | Met |",
        "|---|---|---|---|---|---|",
    ]
    for row in doc["figures"]:
        met = {True: "yes", False: "**no**", None: "—"}[row["meets_target"]]
        lines.append(
            f"| {row['name']} | {_cell(row['value'])} {row['unit']}".rstrip() + " | "
            f"{_cell(row['baseline'])} | {_cell(row['ratio'])} | {row['target'] or '—'} | {met} |"
        )
    lines += [f"\nNot measured: {failure}" for failure in doc.get("failed", [])]
    return "\n".join(lines) + "\n"


def write(
    figures: Sequence[Figure],
    *,
    quick: bool,
    taken: dict[str, Any] | None = None,
    failed: Sequence[str] = (),
    directory: Path = RESULTS,
) -> Path:
    """Write latest.json and latest.md into `directory`; returns the JSON's path."""
    directory.mkdir(parents=True, exist_ok=True)
    doc = document(figures, quick=quick, taken=taken, failed=failed)
    (directory / JSON_FILE).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    (directory / TABLE_FILE).write_text(table(doc))
    return directory / JSON_FILE
