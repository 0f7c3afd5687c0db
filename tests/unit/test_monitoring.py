"""The dashboard and the alerts ask only for metrics the code exports: every metric name in
their expressions is one of the operator's, the app plane's or the web services' (the
instrumentator's); Prometheus's own `up` aside. The dashboard is valid Grafana JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY
from tenantry_operator import metrics as operator_metrics

import app_plane.main  # noqa: F401 - registers the app plane's and the instrumentator's metrics
from control_plane.services import outbox as outbox_service
from control_plane.workers import outbox as outbox_worker

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "components" / "monitoring"
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\()(?![a-zA-Z0-9_:])")
NOISE = (
    re.compile(r'"[^"]*"'),  # strings
    re.compile(r"\{[^}]*\}"),  # label matchers
    re.compile(r"\[[^\]]*\]"),  # ranges
    re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"),
)
KEYWORDS = {"and", "or", "unless", "bool", "offset"}


class NoSession:
    """The outbox collector's session factory, for a collector whose query is replaced."""

    def __call__(self) -> NoSession:
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def exported(monkeypatch: pytest.MonkeyPatch | None = None) -> set[str]:
    """Every metric name the operator, the app plane, the web services and (with a stand-in
    for its query) the control plane's outbox collector export."""
    assert operator_metrics.TENANTS is not None
    names = {"up"}
    for family in REGISTRY.collect():
        names.add(family.name)
        names.add(family.name + "_total")  # counters are named without it in the family
    if monkeypatch is not None:
        monkeypatch.setattr(outbox_service, "stats", lambda session: {"dead": (0, 0.0)})
        collector = outbox_worker.Metrics(NoSession)  # type: ignore[arg-type]
        names |= {m.name for m in collector.collect()}
    return names


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels or keywords)."""
    for noise in NOISE:
        expression = noise.sub(" ", expression)
    return {name for name in IDENTIFIER.findall(expression) if name not in KEYWORDS}


def base(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def dashboard_expressions() -> list[str]:
    document = json.loads((MONITORING / "dashboard.json").read_text())
    return [t["expr"] for p in document["panels"] for t in p.get("targets", [])]


def alert_expressions() -> list[tuple[str, str]]:
    rule = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [
        (r.get("alert") or r["record"], r["expr"])
        for group in rule["spec"]["groups"]
        for r in group["rules"]
    ]


def test_every_metric_the_dashboard_and_alerts_use_is_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = exported(monkeypatch)
    recorded = {name for name, _ in alert_expressions() if ":" in name}
    used = {
        base(n)
        for expression in [*dashboard_expressions(), *(e for _, e in alert_expressions())]
        for n in metric_names(expression)
    }
    assert used, "no metric found: the parser is broken"
    missing = sorted(n for n in used if n not in names and n not in recorded)
    assert missing == [], missing


def test_the_parser_finds_metric_names() -> None:
    expression = 'sum by (le) (rate(tenantry_time_to_ready_seconds_bucket{a="b"}[5m])) > 5'
    assert {base(n) for n in metric_names(expression)} == {"tenantry_time_to_ready_seconds"}
    assert metric_names("time() - tenantry_x > 300") == {"tenantry_x"}
    assert "tenantry_no_such_metric" not in exported()


def test_the_dashboard_covers_fleet_tenant_migrations_and_billing() -> None:
    document = json.loads((MONITORING / "dashboard.json").read_text())
    rows = [p["title"] for p in document["panels"] if p["type"] == "row"]
    assert rows == ["Fleet", "One tenant ($tenant)", "Migrations", "Billing"]
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids))
    assert {v["name"] for v in document["templating"]["list"]} == {"datasource", "tenant"}


def test_every_alert_says_what_is_wrong() -> None:
    rule = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            if "alert" in r:
                assert r["annotations"]["summary"], r["alert"]
                assert r["labels"]["severity"] in {"warning", "critical"}, r["alert"]
