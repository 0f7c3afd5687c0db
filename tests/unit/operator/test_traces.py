"""The operator's spans: a reconcile continues its Tenant's trace, steps and migration phases
are its children, and their attributes say what each found."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any

import pytest
from kopf._core.actions import loggers
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tenantry_operator import conditions, migration, migration_state, model, traces

from tenantry_core import identity, tracing

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
Phase = migration_state.Phase
TENANT = model.Tenant(tenant_key=identity.parse("acme"), uid="u1", generation=3, tier="free")
BODY: dict[str, Any] = {
    "metadata": {"name": "acme", "annotations": {tracing.ANNOTATION: PARENT}},
    "spec": {"tier": "free"},
}


def test_a_tenants_trace_is_its_annotation() -> None:
    assert traces.parent_of(BODY) == PARENT
    assert traces.parent_of({"metadata": {"name": "acme"}}) is None
    assert traces.parent_of({}) is None


def test_attributes_name_the_tenant_even_from_a_malformed_body() -> None:
    assert traces.body_attributes(BODY) == {
        "tenantry.tenant_key": "acme",
        "tenantry.tier": "free",
    }
    assert traces.body_attributes({"metadata": {"name": "x"}, "spec": None}) == {
        "tenantry.tenant_key": "x"
    }
    assert traces.tenant_attributes(TENANT) == traces.body_attributes(BODY)


def test_a_step_result_maps_to_ok_and_reason() -> None:
    failed = conditions.StepResult(False, conditions.Reason.APPLY_FAILED, "no")
    assert traces.result_attributes(failed) == {
        "tenantry.result.ok": False,
        "tenantry.result.reason": "ApplyFailed",
    }
    assert traces.result_attributes(None) == {}


def test_an_outcome_maps_to_placement_readiness_and_reason() -> None:
    status = {
        "placement": "silo",
        "conditions": [
            {"type": "NamespaceReady", "status": "True", "reason": "Provisioned"},
            {"type": "Ready", "status": "False", "reason": "WorkloadNotReady"},
        ],
    }
    assert traces.outcome_attributes(status) == {
        "tenantry.placement": "silo",
        "tenantry.ready": False,
        "tenantry.result.reason": "WorkloadNotReady",
    }
    assert traces.outcome_attributes({}) == {}


def test_a_reconcile_continues_the_annotated_trace_and_steps_are_its_children(
    spans: InMemorySpanExporter,
) -> None:
    with traces.reconcile(BODY), traces.step("namespace", TENANT) as step:
        done = conditions.StepResult(True, conditions.Reason.PROVISIONED, "ok")
        assert step.result(done) is done
    ran, reconciled = spans.get_finished_spans()
    assert reconciled.name == "reconcile"
    assert reconciled.parent is not None
    assert trace.format_span_id(reconciled.parent.span_id) == PARENT.split("-")[2]
    assert reconciled.attributes == {"tenantry.tenant_key": "acme", "tenantry.tier": "free"}
    assert not reconciled.links
    assert ran.name == "step.namespace"
    assert ran.parent is not None
    assert reconciled.context is not None
    assert ran.parent.span_id == reconciled.context.span_id
    assert ran.attributes == {
        "tenantry.tenant_key": "acme",
        "tenantry.tier": "free",
        "tenantry.step": "namespace",
        "tenantry.result.ok": True,
        "tenantry.result.reason": "Provisioned",
    }


def test_a_change_is_traced_until_a_reconcile_settles_the_tenant() -> None:
    assert traces.settled({"phase": "Ready"})
    assert traces.settled({"phase": "Suspended"})
    assert not traces.settled({"phase": "Provisioning"})
    assert not traces.settled({"phase": "Failed"})
    assert traces.continues(PARENT, None)
    assert not traces.continues(PARENT, PARENT)  # settled in this very change: a resync
    assert traces.continues(PARENT, "00-" + "1" * 32 + "-" + "2" * 16 + "-01")  # a new change
    assert not traces.continues(None, None)


def test_after_the_tenant_settled_its_reconciles_link_to_the_change(
    spans: InMemorySpanExporter,
) -> None:
    body = {**BODY, "metadata": {**BODY["metadata"], "name": "settles"}}
    for phase in ("Provisioning", "Ready", "Ready"):
        with traces.reconcile(body) as traced:
            traced.finished({"phase": phase, "placement": "pool"})
    provisioning, ready, resync = spans.get_finished_spans()
    for part in (provisioning, ready):
        assert part.parent is not None
        assert trace.format_span_id(part.parent.span_id) == PARENT.split("-")[2]
        assert not part.links
    assert resync.parent is None
    [link] = resync.links
    assert trace.format_span_id(link.context.span_id) == PARENT.split("-")[2]
    assert resync.context is not None
    assert trace.format_trace_id(resync.context.trace_id) != PARENT.split("-")[1]
    traces.forget("settles")
    with traces.reconcile(body):  # an operator that forgot (restarted) continues the change
        pass
    assert spans.get_finished_spans()[-1].parent is not None


def _state(phase: Phase) -> migration_state.MigrationState:
    return migration_state.MigrationState(
        phase=phase,
        source=model.Isolation.POOL,
        target=model.Isolation.SILO,
        started=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        generation=3,
    )


def test_each_migration_phase_is_a_span_and_is_persisted_once(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phase may take several steps (catching up polls): one span and one persist for it."""
    polls = iter([False, False, True])

    def catch_up(state: migration_state.MigrationState, _: Any) -> Any:
        caught_up = next(polls)
        return dataclasses.replace(state, phase=Phase.SWITCHING if caught_up else state.phase)

    steps = {
        Phase.COPYING: lambda s, _: dataclasses.replace(s, phase=Phase.CATCHING_UP),
        Phase.CATCHING_UP: catch_up,
        Phase.SWITCHING: lambda s, _: dataclasses.replace(s, phase=Phase.FAILED, reason="Nope"),
    }
    monkeypatch.setattr(migration, "_STEPS", steps)
    persisted: list[Phase] = []
    ctx = migration.Context(cfg=None, dbs=None, tenant=TENANT, password="")  # type: ignore[arg-type]
    ended = migration.run(_state(Phase.COPYING), ctx, lambda s: persisted.append(s.phase), poll=0)
    assert ended.phase is Phase.FAILED
    assert persisted == [Phase.CATCHING_UP, Phase.SWITCHING, Phase.FAILED]
    found = spans.get_finished_spans()
    assert [s.name for s in found] == [
        "migration.Copying",
        "migration.CatchingUp",
        "migration.Switching",
    ]
    assert [(s.attributes or {})["tenantry.result.reason"] for s in found] == [
        "CatchingUp",
        "Switching",
        "Nope",
    ]
    assert (found[0].attributes or {})["tenantry.migration.target"] == "silo"


def test_the_operators_json_log_lines_carry_the_trace_id(spans: InMemorySpanExporter) -> None:
    """kopf's JSON formatter (`--log-format=json`) prints what `tracing.tag_records` adds."""
    factory = logging.getLogRecordFactory()
    try:
        tracing.tag_records()
        with traces.reconcile(BODY):
            record = logging.getLogger("tenantry_operator.steps").makeRecord(
                "tenantry_operator.steps", logging.WARNING, __file__, 1, "waits", (), None
            )
    finally:
        logging.setLogRecordFactory(factory)
    line = json.loads(loggers.make_formatter(log_format=loggers.LogFormat.JSON).format(record))
    assert line["message"] == "waits"
    assert line["trace_id"] == PARENT.split("-")[1]
    assert line["span_id"] == trace.format_span_id(
        spans.get_finished_spans()[0].context.span_id
    )
