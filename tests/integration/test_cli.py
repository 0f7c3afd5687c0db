"""The `tenantry` CLI, run as its installed command against the platform: tenants, describe,
suspend, resume, move and the outbox, each with `--output json`, checked against the cluster
and the control plane."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.integration import support

pytestmark = pytest.mark.integration
TENANTRY = Path(sys.executable).with_name("tenantry")


def run(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "KUBECONFIG": env["KUBECONFIG"],
        "TENANTRY_API_URL": env["API_URL"],
        **extra,
    }
    return subprocess.run(
        [str(TENANTRY), *args], env=environ, capture_output=True, text=True, timeout=180
    )


def run_json(env: dict[str, str], *args: str, **extra: str) -> Any:
    done = run(env, *args, "--output", "json", **extra)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def test_the_cli_lists_describes_suspends_resumes_and_moves_a_tenant(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
) -> None:
    body = support.signup(api, support.unique("Clied"))
    name, tenant_id = body["tenant"]["slug"], body["tenant"]["id"]
    support.wait_ready(custom, name)
    token = support.admin(api, env)["Authorization"].removeprefix("Bearer ")

    rows = run_json(env, "tenants")
    mine = next(r for r in rows if r["name"] == name)
    assert {k: mine[k] for k in ("tier", "placement", "phase", "ready")} == {
        "tier": "free",
        "placement": "pool",
        "phase": "Ready",
        "ready": "True",
    }

    described = run_json(env, "describe", name, TENANTRY_TOKEN=token)
    registry = api.get(f"/tenants/{tenant_id}", headers=support.admin(api, env)).json()
    assert described["tenant_id"] == tenant_id
    assert described["data"]["placement"] == "pool"
    assert described["data"]["tenant_key"] == name
    assert {"type": "Ready", "status": "True"}.items() <= next(
        c for c in described["conditions"] if c["type"] == "Ready"
    ).items()
    assert described["billing"] == {
        "state": registry["billing_state"],
        "lifecycle": registry["lifecycle"],
    }
    assert sorted(e["reason"] for e in described["events"]) == sorted(
        e.reason for e in support.events_for(core, name)
    )
    assert described["events"]  # the operator's Events about provisioning it

    suspended = run_json(env, "suspend", name, TENANTRY_TOKEN=token)
    assert suspended == {"name": name, "suspended": True, "via": "api"}
    support.wait_phase(custom, name, "Suspended")
    resumed = run_json(env, "resume", name, TENANTRY_TOKEN=token)
    assert resumed["suspended"] is False
    support.wait_phase(custom, name, "Ready")

    moved = run_json(env, "move", name, "--tier", "enterprise", TENANTRY_TOKEN=token)
    assert (moved["result"], moved["placement"], moved["tier"]) == ("Ready", "silo", "enterprise")
    assert moved["phases"][-1] == "Completed"
    assert moved["migration"]["target"] == "silo"
    held = support.get_tenant(custom, name)
    assert held is not None
    assert held["spec"]["tier"] == "enterprise"
    assert held["status"]["placement"] == "silo"

    shown = run(env, "describe", name, TENANTRY_TOKEN=token)  # the Rich tables
    assert shown.returncode == 0, shown.stderr
    assert "silo" in shown.stdout
    assert "Conditions" in shown.stdout

    missing = run(env, "describe", "no-such-tenant-here")
    assert missing.returncode == 1
    assert "no Tenant named 'no-such-tenant-here'" in missing.stderr


def test_the_cli_lists_and_retries_dead_letters_signed_in_as_a_platform_admin(
    api: httpx.Client, env: dict[str, str], control_db: psycopg.Connection[Any]
) -> None:
    tenant_id = support.signup(api, support.unique("Cliout"))["tenant"]["id"]
    (entry_id,) = control_db.execute(
        "INSERT INTO outbox (tenant_id, action, attempts, last_error, dead_at) "
        "VALUES (%s, 'apply_tenant', 10, 'connection refused', now()) RETURNING id",
        (tenant_id,),
    ).fetchone()  # type: ignore[misc]
    admin = {
        "TENANTRY_ADMIN_EMAIL": env["FIRST_PLATFORM_ADMIN_EMAIL"],
        "TENANTRY_ADMIN_PASSWORD": env["FIRST_PLATFORM_ADMIN_PASSWORD"],
    }
    listed = run_json(env, "outbox", "--state", "dead", **admin)
    mine = next(e for e in listed if e["id"] == entry_id)
    assert (mine["state"], mine["tenant_id"], mine["attempts"], mine["last_error"]) == (
        "dead",
        tenant_id,
        10,
        "connection refused",
    )
    retried = run_json(env, "outbox", "retry", str(entry_id), **admin)
    assert (retried["id"], retried["attempts"], retried["dead_at"]) == (entry_id, 0, None)
    support.wait_processed(control_db, entry_id)
    again = run(env, "outbox", "retry", str(entry_id), **admin)
    assert again.returncode == 1
    assert f"outbox entry {entry_id} is processed" in again.stderr
    refused = run(env, "outbox")  # no credentials at all
    assert refused.returncode == 1
    assert "no credentials" in refused.stderr


def test_the_cli_patches_a_kubectl_tenant_in_the_cluster_and_watches_until_ctrl_c(
    env: dict[str, str], custom: client.CustomObjectsApi
) -> None:
    name = support.unique("kubectl-cli")
    support.create_tenant(custom, name, tier="free")
    support.wait_ready(custom, name)
    suspended = run_json(env, "suspend", name)
    assert suspended == {"name": name, "suspended": True, "via": "cluster"}
    held = support.wait_phase(custom, name, "Suspended")
    assert held["spec"]["suspended"] is True

    environ = {**os.environ, "KUBECONFIG": env["KUBECONFIG"]}
    with subprocess.Popen(
        [str(TENANTRY), "watch", "--output", "json", "--interval", "0.2"],
        env=environ,
        stdout=subprocess.PIPE,
        text=True,
    ) as watching:
        assert watching.stdout is not None
        first, second = json.loads(watching.stdout.readline()), watching.stdout.readline()
        watching.send_signal(signal.SIGINT)
        assert watching.wait(timeout=10) == 0
    assert next(r for r in first if r["name"] == name)["phase"] == "Suspended"
    assert json.loads(second)  # refreshed
    support.delete_tenant(custom, name)
