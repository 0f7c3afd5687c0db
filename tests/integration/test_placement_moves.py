"""Moves a platform admin asks for, through the API and the `tenantry` CLI, carried out live by
the operator: to a named silo server and to another pool shard, the history and figures read
back (`GET .../moves`, `tenantry moves`), the servers catalog (`tenantry servers`), an unknown
server or one of the wrong kind refused, a placement set in Kubernetes followed into the
registry, and rebalancing a tier's tenants over the pool shards (dry run, then `tenantry
rebalance`) over the local platform's pool shards (`main`, `shard-b`, `shard-c`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration
TENANTRY = Path(sys.executable).with_name("tenantry")


def cli(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [str(TENANTRY), *args, "--output", "json"],
        env={
            **os.environ,
            "KUBECONFIG": env["KUBECONFIG"],
            "TENANTRY_API_URL": env["API_URL"],
            "TENANTRY_ADMIN_EMAIL": env["FIRST_PLATFORM_ADMIN_EMAIL"],
            "TENANTRY_ADMIN_PASSWORD": env["FIRST_PLATFORM_ADMIN_PASSWORD"],
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def servers(api: httpx.Client, env: dict[str, str]) -> list[dict[str, Any]]:
    found = api.get("/placement/servers", headers=support.admin(api, env))
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


def test_an_admin_moves_a_tenant_to_a_silo_server_then_to_a_pool_shard(
    api: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> None:
    catalog = servers(api, env)
    assert [(s["name"], s["kind"]) for s in cli(env, "servers")] == [
        (s["name"], s["kind"]) for s in catalog
    ]
    silo = next(s["name"] for s in catalog if s["kind"] == "silo")
    shard = next(s["name"] for s in catalog if s["kind"] == "pool" and s["name"] != "main")
    body = support.signup(api, support.unique("Shifted"))
    name = body["tenant"]["slug"]
    support.wait_ready(custom, name)
    admin, moves = support.admin(api, env), f"/tenants/{body['tenant']['id']}/moves"
    eventually(  # the registry mirrors the placement a moment after the Tenant is Ready
        lambda: api.get(f"/tenants/{body['tenant']['id']}", headers=admin).json()["placement"],
        what=f"{name}'s placement in the registry",
    )

    unknown = api.post(moves, headers=admin, json={"isolation": "pool", "server": "no-such"})
    assert unknown.status_code == 422, unknown.text
    problem = unknown.json()
    assert problem["errors"][0]["loc"] == ["body", "server"]
    assert problem["errors"][0]["msg"] == "unknown server"
    assert shard in problem["allowed"]
    assert "main" in problem["allowed"]
    wrong = api.post(moves, headers=admin, json={"isolation": "silo", "server": shard})
    assert wrong.status_code == 422, wrong.text
    assert "not a silo server" in wrong.text

    to_silo = cli(env, "move", name, "--to", "silo", "--server", silo)
    assert (to_silo["result"], to_silo["placement"], to_silo["server"]) == ("Ready", "silo", silo)
    tenant = support.get_tenant(custom, name)
    assert tenant is not None
    assert tenant["spec"]["placement"] == {"isolation": "silo", "server": silo}

    to_shard = cli(env, "move", name, "--to", "pool", "--server", shard)
    assert (to_shard["placement"], to_shard["server"]) == ("pool", shard)

    def mirrored() -> dict[str, Any] | None:
        shown = dict(api.get(moves, headers=admin).json())
        return shown if len(shown["history"]) >= 2 and not shown["running"] else None

    shown = eventually(mirrored, what="the moves mirrored")
    assert (shown["placement"], shown["server"]) == ("pool", shard)
    first, second = shown["history"][-2:]
    assert (first["source"], first["target"], first["target_server"]) == ("pool", "silo", silo)
    assert (second["target"], second["target_server"], second["result"]) == (
        "pool",
        shard,
        "Completed",
    )
    assert second["duration_ms"] is not None
    assert second["rows_copied"] is not None
    assert shown["current"]["phase"] == "Completed"
    listed = cli(env, "moves", name)
    assert [(m["target"], m["target_server"], m["result"]) for m in listed[-2:]] == [
        ("silo", silo, "Completed"),
        ("pool", shard, "Completed"),
    ]
    again = api.post(moves, headers=admin, json={"isolation": "pool", "server": shard})
    assert again.status_code == 409, "nothing would change"

    # A placement set in Kubernetes by anyone else is followed into the registry.
    support.patch_tenant(custom, name, placement={"isolation": "bridge", "server": shard})
    eventually(
        lambda: (
            api.get(moves, headers=admin).json()["requested"]
            == {"isolation": "bridge", "server": shard}
        ),
        what="the placement followed",
    )


def test_rebalancing_evens_out_a_tiers_tenants_over_the_pool_shards(
    api: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> None:
    shards = [s["name"] for s in servers(api, env) if s["kind"] == "pool"]
    assert len(shards) >= 2
    tier = support.unique("spread")
    support.make_tier(custom, tier, billable=False)
    admin = support.admin(api, env)
    names = []
    for number in range(len(shards) + 1):
        body = support.signup(api, support.unique(f"Spread{number}"))
        support.set_tier(api, env, body["tenant"]["id"], tier)
        names.append(body["tenant"]["slug"])
        support.wait_ready(custom, body["tenant"]["slug"])
        moves = f"/tenants/{body['tenant']['id']}/moves"
        if api.get(moves, headers=admin).json()["server"] != "main":
            placed = cli(env, "move", body["tenant"]["slug"], "--to", "pool", "--server", "main")
            assert placed["server"] == "main"

    plan = cli(env, "rebalance", "--by", "tenants", "--tier", tier, "--dry-run")
    assert plan["loads_before"]["main"] == len(names)
    assert plan["spread_after"] <= 1
    assert len(plan["moves"]) == len(names) - 2  # all on main: one stays there, one more too
    assert not any(m["started"] for m in plan["moves"])

    done = cli(env, "rebalance", "--by", "tenants", "--tier", tier, "--max-concurrent", "2")
    assert [m["result"] for m in done["moves"]] == ["Completed"] * len(plan["moves"])
    assert done["spread_after"] <= 1
    assert sorted(done["loads_after"].values())[-1] - sorted(done["loads_after"].values())[0] <= 1
    on = [(support.get_tenant(custom, n) or {}).get("status", {}).get("server") for n in names]
    assert len(set(on)) == len(shards), on


def test_a_tiers_policy_moves_a_tenant_that_outgrew_the_pool(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
) -> None:
    tier = support.unique("promoting")
    promote = {"to": "bridge", "aboveRows": 3, "action": "Move"}
    support.make_tier(custom, tier, billable=False, placement={"promote": promote})
    name = support.unique("promoted")
    support.create_tenant(custom, name, tier=tier)
    support.wait_ready(custom, name)
    headers = support.token_for(env, name)
    project = app.post("/projects", json={"name": "growing"}, headers=headers).json()["id"]
    for number in range(4):
        made = app.post(f"/projects/{project}/notes", json={"title": f"n{number}"}, headers=headers)
        assert made.status_code == 201, made.text

    def promoted() -> dict[str, Any] | None:
        tenant = support.get_tenant(custom, name) or {}
        status = tenant.get("status") or {}
        done = (status.get("migration") or {}).get("phase") == "Completed"
        return tenant if done and status.get("placement") == "bridge" else None

    tenant = eventually(promoted, timeout=120, what=f"{name} promoted to bridge")
    assert tenant["spec"]["placement"] == {"isolation": "bridge"}
    owners = {
        entry["manager"]
        for entry in tenant["metadata"]["managedFields"]
        if "f:placement" in (entry.get("fieldsV1") or {}).get("f:spec", {})
    }
    assert owners == {"tenantry-policy"}
    reasons = {e.reason: e.type for e in support.events_for(core, name)}
    assert reasons["PolicyMove"] == "Normal"
    assert reasons["MigrationCompleted"] == "Normal"
    notes = app.get(f"/projects/{project}/notes", headers=headers)
    assert notes.status_code == 200
    assert len(notes.json()) == 4, "nothing lost"
