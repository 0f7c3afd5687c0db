"""The reconcile's policy-move step: a Tier's `spec.placement.promote` rule (`promotion`) applied
to one tenant, with its load read from the app plane's metering (`tenantry.usage` in the home
pool database: the stored rows at the last flush, and today's calls as a rate).

`Propose` only reports (the MoveProposed condition, whose transition posts a Normal Event
`MoveProposed`); `Move` sets the Tenant's `spec.placement.isolation` with the field manager
`tenantry-policy` (server-side apply, bound to the Tenant's uid), which starts the live move on
the next reconcile. Idempotent: nothing is written while a move is asked for or under way.
Called by `reconcile` once the tenant's data is served; returns the MoveProposed condition's
result, or None when the Tier has no rule.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes.client.rest import ApiException

from tenantry_core import routing
from tenantry_operator import apply, conditions, decide, model, postgres, promotion, settings

FIELD_MANAGER = "tenantry-policy"
Reason = conditions.Reason
log = logging.getLogger(__name__)


def load(cfg: settings.OperatorSettings, tenant_key: str, now: dt.datetime) -> promotion.Load:
    """The tenant's metered load (none metered yet: no rows, no requests)."""
    with postgres.connect(cfg.admin_url(cfg.pool_database)) as conn:
        row = conn.execute(
            f"SELECT day, api_calls, stored_rows FROM {routing.USAGE_TABLE} "
            f"WHERE {routing.TENANT_COLUMN} = %s ORDER BY day DESC LIMIT 1",
            (tenant_key,),
        ).fetchone()
    if row is None:
        return promotion.Load(0, 0.0)
    day, calls, rows = row
    today = now.astimezone(dt.UTC).date()
    rate = promotion.requests_per_minute(int(calls), now) if day == today else 0.0
    return promotion.Load(int(rows), rate)


def _kept(previous: Sequence[Mapping[str, Any]]) -> conditions.StepResult | None:
    """The MoveProposed condition as the last reconcile left it (while a move runs)."""
    for cond in previous:
        if cond.get("type") == conditions.ConditionType.MOVE_PROPOSED.value:
            try:
                reason = Reason(str(cond.get("reason")))
            except ValueError:
                reason = Reason.BELOW_LIMITS
            return conditions.StepResult(
                cond.get("status") == "True", reason, str(cond.get("message") or "")
            )
    return None


def explicit(body: Mapping[str, Any]) -> bool:
    """Whether someone other than the policy chose the tenant's isolation (spec.placement)."""
    if not ((body.get("spec") or {}).get("placement") or {}).get("isolation"):
        return False
    owners = {
        str(entry.get("manager"))
        for entry in (body.get("metadata") or {}).get("managedFields") or []
        if "f:isolation"
        in (((entry.get("fieldsV1") or {}).get("f:spec") or {}).get("f:placement") or {})
    }
    return not owners or bool(owners - {FIELD_MANAGER})


def ensure(
    body: Mapping[str, Any],
    *,
    tenant: model.Tenant,
    tier: model.Tier,
    decision: decide.Decision,
    previous: Sequence[Mapping[str, Any]],
    cfg: settings.OperatorSettings,
    now: dt.datetime,
) -> conditions.StepResult | None:
    rule = tier.promote
    if rule is None:
        return None
    placement = decision.placement
    if decision.to_run is not None or placement is not decision.wanted:
        return _kept(previous)  # a move is asked for or under way: the policy waits
    if promotion.RANK[placement] >= promotion.RANK[rule.to]:
        return conditions.StepResult(
            False, Reason.BELOW_LIMITS, f"the tenant is on {placement}: nothing to promote"
        )
    try:
        measured = load(cfg, tenant.tenant_key, now)
    except postgres.DatabaseUnavailable as exc:
        log.warning("tenant %s: usage unavailable: %s", tenant.tenant_key, exc)
        return _kept(previous)
    proposal = promotion.decide(
        rule=rule, placement=placement, explicit=explicit(body), moving=False, load=measured
    )
    if proposal is None:
        return None
    if not proposal.exceeded:
        return conditions.StepResult(False, Reason.BELOW_LIMITS, proposal.why)
    source = f"Tier {tier.name!r} promotes to {proposal.target}"
    if proposal.action is promotion.Action.PROPOSE:
        return conditions.StepResult(
            True, Reason.MOVE_PROPOSED, f"{source}: {proposal.why}; move it to {proposal.target}"
        )
    try:
        apply.apply_spec(
            tenant.tenant_key,
            tenant.uid,
            {"placement": {"isolation": proposal.target.value}},
            field_manager=FIELD_MANAGER,
        )
    except ApiException as exc:
        log.warning("tenant %s: policy move not set: %s", tenant.tenant_key, exc.reason)
        return conditions.StepResult(
            False, Reason.APPLY_FAILED, "the policy move could not be set yet; it is retried"
        )
    return conditions.StepResult(True, Reason.POLICY_MOVE, f"{source}: {proposal.why}; moving")
