"""The operator's spans (`tenantry_core.tracing`): a reconcile or an offboarding continues the
trace its Tenant's annotation names (`tracing.ANNOTATION`, written by the control plane with the
change it applied), with a child span per ensure-step (timed for the metrics too) and per phase
of a live migration. Once a reconcile settled the Tenant (Ready or Suspended), later ones start
traces of their own, linked to the change's (`continues`). Attributes say which tenant (key,
tier), where its data is (placement; a migration's source and target), which step and what it
found (the result's reason).

The attribute mappings and decisions are pure; used by reconcile and migration.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry import trace

from tenantry_core import enums, tracing
from tenantry_operator import conditions, metrics, migration_state, model

TENANT_KEY = "tenantry.tenant_key"
TIER = "tenantry.tier"
PLACEMENT = "tenantry.placement"
STEP = "tenantry.step"
REASON = "tenantry.result.reason"
OK = "tenantry.result.ok"
PHASE = "tenantry.migration.phase"
SOURCE = "tenantry.migration.source"
TARGET = "tenantry.migration.target"
READY = "tenantry.ready"
R = TypeVar("R", bound=conditions.StepResult | None)


def parent_of(body: Mapping[str, Any]) -> str | None:
    """The trace a Tenant's reconciles continue: its annotation, if it has one."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    found = annotations.get(tracing.ANNOTATION)
    return str(found) if found else None


def body_attributes(body: Mapping[str, Any]) -> dict[str, str]:
    """Which tenant a span is about, read from its Tenant as stored (even a malformed one)."""
    name = (body.get("metadata") or {}).get("name")
    tier = (body.get("spec") or {}).get("tier")
    return {
        **({TENANT_KEY: str(name)} if name else {}),
        **({TIER: str(tier)} if tier else {}),
    }


def tenant_attributes(tenant: model.Tenant) -> dict[str, str]:
    return {TENANT_KEY: tenant.tenant_key, TIER: tenant.tier}


def result_attributes(result: conditions.StepResult | None) -> dict[str, str | bool]:
    """What a step found: ok, and its reason (none for a step that did not run)."""
    if result is None:
        return {}
    return {OK: result.ok, REASON: result.reason.value}


def outcome_attributes(new_status: Mapping[str, Any]) -> dict[str, str | bool]:
    """What a reconcile ended with: the placement, whether the tenant is Ready and the Ready
    condition's reason."""
    ready = next(
        (c for c in new_status.get("conditions") or [] if c.get("type") == "Ready"), None
    )
    placement = new_status.get("placement")
    return {
        **({PLACEMENT: str(placement)} if placement else {}),
        **({READY: ready.get("status") == "True"} if ready else {}),
        **({REASON: str(ready["reason"])} if ready and ready.get("reason") else {}),
    }


def phase_attributes(
    tenant: model.Tenant, ran: migration_state.Phase, ended: migration_state.MigrationState
) -> dict[str, str]:
    """A migration's span: the tenant, the move, the phase it ran, and the phase (or the reason
    of a failure) it ended in."""
    return {
        **tenant_attributes(tenant),
        STEP: "migration",
        SOURCE: ended.source.value,
        TARGET: ended.target.value,
        PHASE: ran.value,
        REASON: ended.reason or ended.phase.value,
    }


def settled(new_status: Mapping[str, Any]) -> bool:
    """Whether a reconcile left its Tenant where the change wanted it: Ready, or Suspended."""
    return new_status.get("phase") in {enums.Phase.READY, enums.Phase.SUSPENDED}


def continues(parent: str | None, settled_in: str | None) -> bool:
    """Whether a reconcile is part of the change its Tenant's annotation names: until one of
    the change's reconciles settled the Tenant. Later ones (resyncs, drift, repairs) start
    traces of their own, linked to the change's, so a long-lived tenant's trace ends."""
    return parent is not None and parent != settled_in


_SETTLED: dict[str, str] = {}  # a Tenant's name -> the trace a reconcile of it settled in


@dataclass(frozen=True)
class Reconcile:
    span: trace.Span
    name: str
    parent: str | None

    def finished(self, new_status: Mapping[str, Any]) -> None:
        """Record what the reconcile ended with; a settled Tenant ends its change's trace."""
        self.span.set_attributes(outcome_attributes(new_status))
        if self.parent is not None and settled(new_status):
            _SETTLED[self.name] = self.parent


@contextmanager
def reconcile(body: Mapping[str, Any], span_name: str = "reconcile") -> Iterator[Reconcile]:
    """The span of one reconcile (or offboarding, by `span_name`) of the Tenant `body`: a child
    of its annotation's trace while that change is under way, else linked to it."""
    parent, name = parent_of(body), str((body.get("metadata") or {}).get("name", ""))
    part = continues(parent, _SETTLED.get(name))
    with tracing.span(
        span_name,
        parent=parent if part else None,
        link=None if part else parent,
        attributes=body_attributes(body),
    ) as span:
        yield Reconcile(span, name, parent)


def forget(name: str) -> None:
    """An offboarded Tenant's traces are over."""
    _SETTLED.pop(name, None)


@dataclass(frozen=True)
class Step:
    span: trace.Span

    def result(self, found: R) -> R:
        """Record what the step found on its span, and hand it on."""
        self.span.set_attributes(result_attributes(found))
        return found


@contextmanager
def step(name: str, tenant: model.Tenant) -> Iterator[Step]:
    """A reconcile step's span (`step.NAME`), timed for the step metric too."""
    attributes = {**tenant_attributes(tenant), STEP: name}
    with metrics.step(name), tracing.span(f"step.{name}", attributes=attributes) as span:
        yield Step(span)


@contextmanager
def phase(tenant: model.Tenant, state: migration_state.MigrationState) -> Iterator[trace.Span]:
    """The span of one migration phase, from its first step to the next phase."""
    name, attributes = f"migration.{state.phase.value}", tenant_attributes(tenant)
    with tracing.span(name, attributes=attributes) as span:
        yield span
