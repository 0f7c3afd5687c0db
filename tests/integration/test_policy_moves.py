"""A Tier's policy move that proposes: a pooled tenant whose stored rows pass the Tier's tiny
`aboveRows` gets the MoveProposed condition and a Normal Event naming the target, and nothing
moves. (The policy that moves, `action: Move`, is in `test_placement_moves`: it needs the
Tenant's spec.placement.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_a_tenant_above_its_tiers_rows_is_proposed_for_a_move(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
) -> None:
    tier = support.unique("outgrown")
    promote = {"to": "silo", "aboveRows": 3, "action": "Propose"}
    support.make_tier(custom, tier, billable=False, placement={"promote": promote})
    name = support.unique("grower")
    support.create_tenant(custom, name, tier=tier)
    first = support.wait_ready(custom, name)
    within = support.condition(first, "MoveProposed")
    assert (within["status"], within["reason"]) == ("False", "BelowLimits")
    headers = support.token_for(env, name)
    project = app.post("/projects", json={"name": "growing"}, headers=headers)
    assert project.status_code == 201, project.text
    for number in range(4):  # a project and 4 notes: 5 rows, above 3
        made = app.post(
            f"/projects/{project.json()['id']}/notes", json={"title": f"n{number}"}, headers=headers
        )
        assert made.status_code == 201, made.text

    def proposed() -> dict[str, Any] | None:
        found = support.condition(support.get_tenant(custom, name), "MoveProposed")
        return found if found.get("status") == "True" else None

    condition = eventually(proposed, timeout=60, what="MoveProposed")
    assert condition["reason"] == "MoveProposed"
    assert "5 rows above 3" in condition["message"]
    assert "move it to silo" in condition["message"]
    events = [e for e in support.events_for(core, name) if e.reason == "MoveProposed"]
    assert [e.type for e in events] == ["Normal"]
    assert "silo" in events[0].message
    tenant = support.get_tenant(custom, name)
    assert tenant is not None
    assert tenant["status"]["placement"] == "pool", "a proposal moves nothing"
    assert "placement" not in tenant["spec"]
    assert support.condition(tenant, "Ready")["status"] == "True"
    assert not [e for e in support.events_for(core, name) if e.type == "Warning"]
