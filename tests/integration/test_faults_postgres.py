"""Postgres restarted (fast shutdown; same data directory and port) while pool and silo tenants
are provisioned, and while a live migration pool → silo is copying or catching up, with the app
plane writing the tenant's notes throughout. Every tenant ends Ready on its Tier's placement, no
acknowledged write is lost, no replication slot, publication or subscription is left over, and
the control plane and the app plane reconnect by themselves."""

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
from tests.integration import support
from tests.integration import test_migration as migration
from tests.integration import test_offboarding_migration as offboarding

pytestmark = [pytest.mark.integration, pytest.mark.slow]
STEP_PAUSE = {"TENANTRY_MIGRATION_STEP_PAUSE": "1.0"}
OUTAGE_REASONS = {"DatabaseUnavailable", "DatabaseFailed"}


@pytest.fixture
def postgres_back(platform: stack.Platform) -> Iterator[stack.Platform]:
    """Postgres runs after the test, whatever it stopped."""
    try:
        yield platform
    finally:
        if "postgres" not in platform.processes:
            platform.start_postgres()


@pytest.fixture
def slow_operator(postgres_back: stack.Platform) -> Iterator[stack.Platform]:
    """An operator that pauses a second after each migration step, so a test lands in one."""
    postgres_back.stop_operator()
    postgres_back.start_operator(STEP_PAUSE)
    try:
        yield postgres_back
    finally:
        postgres_back.stop_operator()
        postgres_back.start_operator()


def pool_connection(env: dict[str, str]) -> psycopg.Connection[Any]:
    """A new superuser connection to the pool database (one from before a restart is dead)."""
    url = env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0] + "/" + env["TENANTRY_POOL_DATABASE"]
    return psycopg.connect(url, autocommit=True)


def ready_reason(custom: client.CustomObjectsApi, name: str) -> str:
    return str(support.condition(support.get_tenant(custom, name)).get("reason", ""))


def served(app: httpx.Client, env: dict[str, str], name: str) -> None:
    """The tenant's owner (signed in through the control plane) writes and reads a note through
    the app plane."""
    headers = support.token_for(env, name)
    project = app.post("/projects", json={"name": "after"}, headers=headers)
    assert project.status_code == 201, project.text
    note = app.post(f"/projects/{project.json()['id']}/notes", json={"title": "n"}, headers=headers)
    assert note.status_code == 201, note.text
    assert app.get(f"/notes/{note.json()['id']}", headers=headers).status_code == 200


def test_postgres_restarted_while_tenants_are_provisioned(
    postgres_back: stack.Platform,
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
) -> None:
    platform = postgres_back
    tiers = {support.unique("pgpool"): "free", support.unique("pgsilo"): "enterprise"}
    before = offboarding.inventory(env, *tiers)
    for name, tier in tiers.items():
        support.create_tenant(custom, name, tier=tier, deletionPolicy="Delete")
    silo = next(name for name, tier in tiers.items() if tier == "enterprise")
    eventually(
        lambda: (support.get_tenant(custom, silo) or {}).get("status"),
        what=f"the operator at work on {silo}",
    )
    platform.stop_postgres()
    eventually(
        lambda: ready_reason(custom, silo) in OUTAGE_REASONS,
        what=f"{silo} waiting for its database",
    )
    platform.start_postgres()

    for name, tier in tiers.items():
        tenant = support.wait_tier(custom, name, tier)
        assert tenant["status"]["placement"] == {"free": "pool", "enterprise": "silo"}[tier]
        served(app, env, name)
    after = offboarding.inventory(env, *tiers)
    assert after.databases - before.databases == {"tenant_" + silo.replace("-", "_")}
    assert (after.slots, after.publications, after.subscriptions) == (
        before.slots,
        before.publications,
        before.subscriptions,
    )
    for name in tiers:
        support.delete_tenant(custom, name)


def acked_since(running: migration.Writer, count: int) -> None:
    """Until `count` more writes are acknowledged."""
    target = len(running.acked) + count
    eventually(lambda: len(running.acked) >= target, what=f"{count} more acknowledged writes")


def finished(custom: client.CustomObjectsApi, name: str) -> dict[str, Any] | None:
    """The Tenant once its move to the silo ended, either way, and it is Ready."""
    tenant = support.get_tenant(custom, name) or {}
    status = tenant.get("status") or {}
    migration_status = status.get("migration") or {}
    done = migration_status.get("phase") in ("Completed", "Failed")
    ready = support.condition(tenant).get("status") == "True"
    return tenant if done and migration_status.get("target") == "silo" and ready else None


@pytest.mark.parametrize("phase", ["Copying", "CatchingUp"])
def test_postgres_restarted_mid_migration_loses_nothing(
    phase: str,
    slow_operator: stack.Platform,
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
) -> None:
    platform = slow_operator
    name = support.unique("pgmove")
    before = offboarding.inventory(env, name)
    support.create_tenant(custom, name, tier="free", deletionPolicy="Delete")
    support.wait_ready(custom, name)
    headers = support.token_for(env, name)
    project = app.post("/projects", json={"name": "moving"}, headers=headers).json()["id"]
    for number in range(50):
        seeded = app.post(
            f"/projects/{project}/notes", json={"title": f"seed{number}"}, headers=headers
        )
        assert seeded.status_code == 201, seeded.text
    running = migration.Writer(app, headers, project)
    running.start()
    try:
        acked_since(running, 10)
        support.patch_tenant(custom, name, tier="enterprise")
        eventually(
            functools.partial(migration.at_phase, custom, name, phase),
            timeout=60,
            what=f"migration at {phase}",
        )
        platform.stop_postgres()
        eventually(lambda: running.errors, what="the app plane failing while Postgres is down")
        platform.start_postgres()
        acked_since(running, 10)  # the app plane reconnected by itself
        failures = len(running.errors)

        tenant = eventually(
            functools.partial(finished, custom, name), timeout=90, what=f"{name} moved"
        )
        if tenant["status"]["migration"]["phase"] == "Failed":  # rolled back: a change retries
            assert tenant["status"]["placement"] == "pool"
            support.patch_tenant(custom, name, displayName="try again")
            eventually(
                functools.partial(offboarding.moved, custom, name, "silo"),
                timeout=90,
                what=f"{name} moved on the retry",
            )
            tenant = support.wait_ready(custom, name)
        assert tenant["status"]["placement"] == "silo"
        acked_since(running, 10)
    finally:
        running.finish()
    assert running.errors[failures:] == [], "no failure once Postgres was back"
    notes = support.every_page(app, f"/projects/{project}/notes", headers)
    ids = [note["id"] for note in notes]
    assert len(ids) == len(set(ids)), "no row twice"
    assert set(running.acked) <= set(ids), f"lost {len(set(running.acked) - set(ids))} writes"
    assert len(ids) >= 50 + len(running.acked), "the 50 notes written before the move are kept"
    with pool_connection(env) as pool:
        assert migration.replication_leftovers(pool, name) == []
        assert offboarding.pool_rows(pool, name) == 0, "the pool copy is purged"
    after = offboarding.inventory(env, name)
    assert (after.slots, after.publications, after.subscriptions) == (
        before.slots,
        before.publications,
        before.subscriptions,
    )
    support.delete_tenant(custom, name)
