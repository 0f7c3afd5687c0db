"""The operator SIGKILLed at every step of a bridge move while the app keeps writing: bridge →
silo, the longest path (replication into a staging schema of the silo, then a mirror into its
tables). The move completes, nothing is lost, and no trigger, slot, publication, subscription
or staging schema is left behind. (Pool ↔ silo: `test_migration`.) A Tenant deleted in the
middle of a move into bridge leaves no trigger on the pooled tables either."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import moving, support

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PAUSE = {"TENANTRY_MIGRATION_STEP_PAUSE": "1.0"}  # a second after each step to kill it in
STEPS = ("Provisioning", "Copying", "CatchingUp", "Switching", "CleaningUp")


@pytest.fixture(scope="module")
def slow_operator(platform: stack.Platform) -> Iterator[stack.Platform]:
    """An operator that pauses a second after each migration step, so a test can kill it there."""
    platform.stop_operator()
    platform.start_operator(PAUSE)
    try:
        yield platform
    finally:
        if "operator" in platform.processes:
            platform.stop_operator()
        platform.start_operator()


def at(custom: client.CustomObjectsApi, name: str, target: str, step: str) -> bool:
    """Whether the tenant's move to `target` is at `step`."""
    status = (support.get_tenant(custom, name) or {}).get("status") or {}
    moving_to = status.get("migration") or {}
    return bool(moving_to.get("phase") == step and moving_to.get("target") == target)


def staging_left(env: dict[str, str], name: str) -> bool:
    """Whether the silo database still has a staging schema named like the bridge schema."""
    url = env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0] + "/tenant_" + name.replace("-", "_")
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", ("tenant_" + name.replace("-", "_"),)
        )
        return found.fetchone() is not None


def test_operator_killed_at_every_step_of_a_bridge_move_converges(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    slow_operator: stack.Platform,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name, running = moving.start_writer(app, env, custom, prefix="killed", tier="pro")
    try:
        support.patch_tenant(custom, name, tier="enterprise")
        for step in STEPS:
            eventually(
                functools.partial(at, custom, name, "silo", step),
                timeout=60,
                what=f"the move at {step}",
            )
            slow_operator.kill_operator()
            slow_operator.start_operator(PAUSE)
        done = moving.migrate(custom, name, "enterprise")["status"]["migration"]
        assert (done["phase"], done["source"], done["target"]) == ("Completed", "bridge", "silo")
        assert moving.replication_leftovers(pool_admin, name) == []
        assert not staging_left(env, name)
        running.writes_flow()
    finally:
        running.finish()
    moving.assert_nothing_lost(app, running)


def test_deleted_while_moving_into_bridge_leaves_nothing(
    custom: client.CustomObjectsApi,
    slow_operator: stack.Platform,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = support.unique("leaving")
    support.create_tenant(custom, name, tier="free", deletionPolicy="Delete")
    support.wait_ready(custom, name)
    pool_admin.execute(
        "INSERT INTO projects (tenant_key, name) VALUES (%s, 'moving'), (%s, 'along')",
        (name, name),
    )
    support.patch_tenant(custom, name, tier="pro")
    eventually(
        functools.partial(at, custom, name, "bridge", "CatchingUp"),
        timeout=60,
        what="the move into bridge copied",
    )
    role = "tnt_" + name.replace("-", "_")
    # Until the switch, the tenant's own logins still land in the pooled tables it is served
    # from, not in the half-filled bridge schema.
    assert pool_admin.execute(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
        "JOIN pg_database d ON d.oid = s.setdatabase "
        "WHERE r.rolname = %s AND d.datname = current_database()",
        (role,),
    ).fetchall() == []
    support.delete_tenant(custom, name)
    assert moving.replication_leftovers(pool_admin, name) == [], "no trigger or function left"
    schema = "tenant_" + name.replace("-", "_")
    assert (
        pool_admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        is None
    )
    assert pool_admin.execute(
        "SELECT count(*) FROM projects WHERE tenant_key = %s", (name,)
    ).fetchone() == (0,)
    assert (
        pool_admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None
    )
