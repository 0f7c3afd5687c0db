"""`POST /tenants/{id}/moves` as far as the control plane goes: platform admins only, the
target validated (409 when nothing would change or a move is under way, 422 for a malformed
one), audited, idempotent, and recorded for the outbox to apply as the Tenant's
`spec.placement`; `GET .../moves` shows it asked for. The Tenant's spec.placement, the moves
themselves, the servers catalog and rebalancing are in `test_placement_moves` (they need the
operator's pool shards and the Tenant CRD's placement)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_a_platform_admin_asks_for_a_move_through_the_outbox(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    body = support.signup(api, support.unique("Movable"))
    name, tenant_id = body["tenant"]["slug"], body["tenant"]["id"]
    support.wait_ready(custom, name)
    moves = f"/tenants/{tenant_id}/moves"
    admin = support.admin(api, env)
    eventually(
        lambda: api.get(moves, headers=admin).json()["placement"] == "pool",
        what="the placement mirrored",
    )

    owner = support.auth(body)
    refused = api.post(moves, headers=owner, json={"isolation": "bridge"})
    assert refused.status_code == 403, "a tenant never chooses its placement"
    assert api.get(moves, headers=owner).status_code == 403
    unknown = api.post(f"/tenants/{uuid.uuid4()}/moves", headers=admin, json={"isolation": "pool"})
    assert unknown.status_code == 404

    same = api.post(moves, headers=admin, json={"isolation": "pool"})
    assert same.status_code == 409, same.text
    assert same.headers["content-type"] == "application/problem+json"
    assert same.json()["title"] == "Nothing to move"
    malformed = api.post(moves, headers=admin, json={"isolation": "moon"})
    assert malformed.status_code == 422
    extra = api.post(moves, headers=admin, json={"isolation": "silo", "tier": "x"})
    assert extra.status_code == 422

    key = {**admin, "Idempotency-Key": f"move-{uuid.uuid4()}"}
    accepted = api.post(moves, headers=key, json={"isolation": "bridge"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["location"] == f"/api/v1/tenants/{tenant_id}/moves"
    shown = accepted.json()
    assert shown["requested"] == {"isolation": "bridge", "server": None}
    assert (shown["placement"], shown["running"], shown["slug"]) == ("pool", True, name)
    replayed = api.post(moves, headers=key, json={"isolation": "bridge"})
    assert (replayed.status_code, replayed.json()) == (202, shown)
    again = api.post(moves, headers=admin, json={"isolation": "silo"})
    assert again.status_code == 409
    assert again.json()["title"] == "Move in progress"

    audited = control_db.execute(
        "SELECT actor, before, after FROM audit_log "
        "WHERE tenant_id = %s AND action = 'tenant.move'",
        (tenant_id,),
    ).fetchall()
    assert len(audited) == 1, "the replay and the refusals are not audited"
    actor, before, after = audited[0]
    assert actor.startswith("user:")
    assert before == {"placement": "pool", "server": "main"}
    assert after == {"placement": "bridge", "server": None, "why": "requested"}
    (requested, entries) = control_db.execute(
        "SELECT placement_request, (SELECT count(*) FROM outbox o WHERE o.tenant_id = t.id "
        "AND o.action = 'apply_tenant' AND o.created_at >= now() - interval '1 minute') "
        "FROM tenants t WHERE t.id = %s",
        (tenant_id,),
    ).fetchone()  # type: ignore[misc]
    assert requested == {"isolation": "bridge"}
    assert entries >= 1, "the outbox applies it to the Tenant (test_placement_moves: and moves)"
