"""`python -m bench --quick` in CI: every benchmark runs in quick mode against the session's
platform and produces each of its figures, so the benchmarks never rot. No target is asserted:
small counts on a shared machine say nothing about them."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench import report, suite
from localplatform import stack

# The start of each figure's name: each must be in the table, once.
EXPECTED = [
    "Pool tenant time-to-Ready",
    "Bridge tenant time-to-Ready",
    "Silo tenant time-to-Ready",
    "API `GET /tenants/{id}` as owner, sequential",
    "API `GET /tenants/{id}` with an API key",
    "API `PATCH /tenants/{id}`, p95",
    "API `PATCH /tenants/{id}` with Idempotency-Key",
    "API `GET /tenants/{id}`, 16 concurrent clients, 1 uvicorn worker(s), throughput",
    "API `GET /tenants/{id}`, 16 concurrent clients, p99",
    "API errors under concurrent load",
    "App-plane page query with RLS",
    "App-plane request",
    "App-plane `GET /healthz`",
    "Signups accepted",
    "Signups failed",
    "Signups to all",
    "Live move pool → silo, 10000 rows: write latency p99",
    "Live move pool → silo, 10000 rows: write latency max",
    "Live move pool → silo, 10000 rows: fence",
    "Live move pool → silo, 10000 rows: total time",
    "Live move pool → silo, 10000 rows: failed or lost writes",
    "Burst: 5 pool tenants created at once",
    "Burst: operator peak RSS",
    "Burst: objects refused",
    "Steady state with",
    "Periodic reconciles in that window",
]


def test_quick_mode_produces_every_figure(platform: stack.Platform, tmp_path: Path) -> None:
    figures = suite.run(platform, quick=True)
    names = [f.name for f in figures]
    for start in EXPECTED:
        assert any(name.startswith(start) for name in names), f"no figure {start!r}: {names}"
    assert len(names) == len(set(names)) == len(EXPECTED)
    for found in figures:
        assert math.isfinite(found.value), found
        assert found.value >= 0, found
        if found.baseline is not None:
            assert found.baseline > 0, found
            assert found.ratio is not None, found
        assert (found.target is None) == (found.meets_target is None), found
    written = report.write(figures, quick=True, directory=tmp_path)
    assert [f["name"] for f in json.loads(written.read_text())["figures"]] == names
    table = (tmp_path / report.TABLE_FILE).read_text()
    assert all(f"| {name} |" in table for name in names)
