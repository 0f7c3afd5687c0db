"""Where a new tenant, or a move into a silo that names no server, goes: the placement
policy's choice (`placement`) over the servers the operator knows now (`servers.fleet`),
recorded before any data is made and told in a Placed Event. Used by `reconcile` (a new
tenant's data step) and `steps.migrate` (a move's start).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tenantry_operator import (
    apply,
    conditions,
    migration_state,
    model,
    postgres,
    provisioners,
    servers,
    settings,
)
from tenantry_operator import placement as placement_policy

Body = Mapping[str, Any]  # the Tenant as kopf passed it
Reason = conditions.Reason
PLACED = "Placed"  # the reason of the Event telling where a new tenant went, and why
log = logging.getLogger(__name__)


def place_new(
    body: Body,
    tenant: model.Tenant,
    tier: model.Tier,
    placement: model.Isolation,
    *,
    cfg: settings.OperatorSettings,
) -> str | conditions.StepResult:
    """The server of a new tenant (a pool shard, or a silo server): the one status records
    (chosen by an earlier reconcile), else the placement policy's choice, recorded in
    `status.server` before any data is made there (and told in a Placed event with the loads
    it weighed); a refusal when the Tenant or its Tier names an unknown server."""
    if tenant.server:
        return tenant.server
    try:
        fleet = servers.fleet(cfg, placement)
        chosen = placement_policy.server_for(tenant, tier, fleet)
    except placement_policy.UnknownServer as exc:
        return conditions.StepResult(False, Reason.UNKNOWN_SERVER, str(exc))
    except postgres.DatabaseUnavailable as exc:
        log.warning("tenant %s: %s", tenant.tenant_key, str(exc).strip())
        return conditions.StepResult(False, Reason.DATABASE_UNAVAILABLE, conditions.UNAVAILABLE)
    apply.patch_status(tenant.tenant_key, {"server": chosen})
    why = placement_policy.explain(tenant, tier, fleet, chosen)
    apply.post_event(body, conditions.Event("Normal", PLACED, why))
    return chosen


def silo_target(
    tenant: model.Tenant,
    tier: model.Tier,
    state: migration_state.MigrationState,
    cfg: settings.OperatorSettings,
) -> migration_state.MigrationState:
    """A move into a silo that names no server goes where a new silo would (the Tier's servers,
    policy and label; `placement`), for the servers provisioner; failed when no silo server
    may take the tenant. Others keep the provisioner's choice."""
    silo = model.Isolation.SILO
    if state.target is not silo or not provisioners.places_by_policy(silo, tier, cfg):
        return state
    try:
        chosen = placement_policy.server_for(tenant, tier, servers.fleet(cfg, silo))
    except placement_policy.UnknownServer as exc:
        return replace(
            state,
            phase=migration_state.Phase.FAILED,
            reason=Reason.UNKNOWN_SERVER.value,
            message=str(exc),
        )
    return replace(state, target_server=chosen)
