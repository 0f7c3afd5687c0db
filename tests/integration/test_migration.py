"""Live migration pool ↔ silo while the app keeps serving: no error, no lost write, resumable
at every step, and a verification failure rolls back with nothing lost."""

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

pytestmark = pytest.mark.integration


Writer = moving.Writer
migrate = moving.migrate
at_phase = moving.at_phase
replication_leftovers = moving.replication_leftovers
assert_nothing_lost = moving.assert_nothing_lost


@pytest.fixture
def writer(
    app: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> Iterator[tuple[str, Writer]]:
    name, running = moving.start_writer(app, env, custom)
    yield name, running
    running.finish()


def test_pool_to_silo_and_back_while_writing(
    writer: tuple[str, Writer],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    kube: client.ApiClient,
    app: httpx.Client,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name, running = writer
    database = "tenant_" + name.replace("-", "_")
    running.writes_flow()

    to_silo = migrate(custom, name, "enterprise")
    migration = to_silo["status"]["migration"]
    assert (migration["phase"], migration["source"], migration["target"]) == (
        "Completed",
        "pool",
        "silo",
    )
    assert migration["writeBlockMs"] is not None
    assert migration["writeBlockMs"] < 1000
    assert to_silo["status"]["placement"] == "silo"
    assert support.condition(to_silo, "Migrating")["status"] == "False"
    assert support.condition(to_silo, "MigrationRequired")["status"] == "False"
    assert pool_admin.execute(
        "SELECT count(*) FROM public.notes WHERE tenant_key = %s", (name,)
    ).fetchone() == (0,), "the pool copy is purged"
    reasons = [e.reason for e in support.events_for(core, name)]
    for step in ("Provisioning", "Copying", "CatchingUp", "Switching", "CleaningUp", "Completed"):
        assert f"Migration{step}" in reasons
    eventually(
        lambda: (
            client.AppsV1Api(kube)
            .read_namespaced_deployment("app", f"tenant-{name}")
            .status.available_replicas
            == 2
        ),
        what="silo app available",
    )
    running.writes_flow()

    back = migrate(custom, name, "free")
    assert (back["status"]["migration"]["phase"], back["status"]["placement"]) == (
        "Completed",
        "pool",
    )
    assert (
        pool_admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        is None
    ), "the silo is purged"
    eventually(lambda: not support.pod_urls(core, f"tenant-{name}"), what="silo app removed")
    running.writes_flow()
    running.finish()
    assert running.reads > 20
    assert len(running.acked) > 20
    assert_nothing_lost(app, running)
    assert replication_leftovers(pool_admin, name) == []


@pytest.fixture
def slow_operator(platform: stack.Platform) -> Iterator[stack.Platform]:
    """An operator that pauses a second after each migration step, so a test can kill it there."""
    platform.stop_operator()
    platform.start_operator({"TENANTRY_MIGRATION_STEP_PAUSE": "1.0"})
    yield platform
    platform.stop_operator()
    platform.start_operator()


@pytest.fixture
def slower_operator(platform: stack.Platform) -> Iterator[stack.Platform]:
    """An operator whose moves pause 3 s after each step: a move lasts well over 15 s."""
    platform.stop_operator()
    platform.start_operator({"TENANTRY_MIGRATION_STEP_PAUSE": "3.0"})
    yield platform
    platform.stop_operator()
    platform.start_operator()


def test_a_move_runs_apart_from_the_reconciles(
    writer: tuple[str, Writer],
    slower_operator: stack.Platform,
    custom: client.CustomObjectsApi,
    app: httpx.Client,
) -> None:
    name, running = writer
    support.patch_tenant(custom, name, tier="enterprise")
    eventually(
        functools.partial(at_phase, custom, name, "Provisioning"), timeout=30, what="moving"
    )

    def moving() -> bool:
        status = (support.get_tenant(custom, name) or {}).get("status") or {}
        return status.get("migration", {}).get("phase") not in ("Completed", "Failed")

    other = support.unique("beside")
    support.create_tenant(custom, other, tier="free")
    support.wait_ready(custom, other)
    assert moving(), "another tenant became Ready while the move went on"
    # The moving tenant's own reconciles go on too: a change to it is observed at once.
    support.patch_tenant(custom, name, displayName="renamed while moving")

    def observed() -> bool:
        tenant = support.get_tenant(custom, name) or {}
        generation = tenant["metadata"]["generation"]
        return bool((tenant.get("status") or {}).get("observedGeneration") == generation)

    eventually(observed, timeout=10, what="the change observed")
    assert moving()
    done = migrate(custom, name, "enterprise")
    assert done["status"]["migration"]["phase"] == "Completed"
    running.finish()
    assert_nothing_lost(app, running)
    support.delete_tenant(custom, other)


@pytest.mark.slow
def test_operator_killed_at_each_step_converges(
    writer: tuple[str, Writer],
    slow_operator: stack.Platform,
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name, running = writer
    steps = ["Provisioning", "Copying", "CatchingUp", "Switching", "CleaningUp"]
    for number, step in enumerate(steps):
        tier = "enterprise" if number % 2 == 0 else "free"
        support.patch_tenant(custom, name, tier=tier)
        eventually(
            functools.partial(at_phase, custom, name, step), timeout=60, what=f"migration at {step}"
        )
        slow_operator.kill_operator()
        slow_operator.start_operator({"TENANTRY_MIGRATION_STEP_PAUSE": "1.0"})
        done = migrate(custom, name, tier)
        assert done["status"]["migration"]["phase"] == "Completed", step
        assert replication_leftovers(pool_admin, name) == [], step
    running.finish()
    assert_nothing_lost(app, running)


def test_a_target_row_changed_behind_the_replications_back_is_caught_before_the_fence(
    writer: tuple[str, Writer],
    slow_operator: stack.Platform,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name, running = writer
    support.patch_tenant(custom, name, tier="enterprise")
    eventually(
        functools.partial(at_phase, custom, name, "CatchingUp"), timeout=60, what="catching up"
    )
    # A seeded note, which the writer never changes again, altered in the copy alone.
    server = env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0]
    silo = f"{server}/tenant_{name.replace('-', '_')}"
    with psycopg.connect(silo, autocommit=True) as target:
        changed = target.execute(
            "UPDATE public.notes SET title = 'tampered' WHERE tenant_key = %s AND title = 'seed7'",
            (name,),
        ).rowcount
    assert changed == 1
    failed = migrate(custom, name, "enterprise")
    migration = failed["status"]["migration"]
    assert (migration["phase"], migration["reason"]) == ("Failed", "VerificationFailed")
    assert "notes" in migration["message"]
    assert failed["status"]["placement"] == "pool"
    assert replication_leftovers(pool_admin, name) == []
    running.finish()
    assert_nothing_lost(app, running)


def test_verification_failure_rolls_back_and_loses_nothing(
    writer: tuple[str, Writer],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name, running = writer
    migrate(custom, name, "enterprise")
    # Sabotage the target of the way back: rows of this tenant arriving in the pool get altered,
    # so the target never equals the source.
    function = f"corrupt_{name.replace('-', '_')}"
    pool_admin.execute(f"""
        CREATE FUNCTION public.{function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.tenant_key = '{name}' THEN NEW.title := NEW.title || '!'; END IF;
        RETURN NEW; END $$""")
    pool_admin.execute(
        f"CREATE TRIGGER {function} BEFORE INSERT OR UPDATE ON public.notes "
        f"FOR EACH ROW EXECUTE FUNCTION public.{function}()"
    )
    pool_admin.execute(f"ALTER TABLE public.notes ENABLE ALWAYS TRIGGER {function}")
    try:
        failed = migrate(custom, name, "free")
    finally:
        pool_admin.execute(f"DROP TRIGGER {function} ON public.notes")
        pool_admin.execute(f"DROP FUNCTION public.{function}()")
    migration = failed["status"]["migration"]
    assert migration["phase"] == "Failed"
    assert "notes" in migration["message"]
    assert failed["status"]["placement"] == "silo"
    assert support.condition(failed, "MigrationFailed")["status"] == "True"
    assert support.condition(failed, "MigrationFailed")["reason"] == "VerificationFailed"
    assert support.condition(failed, "Ready")["status"] == "True"
    assert pool_admin.execute(
        "SELECT count(*) FROM public.notes WHERE tenant_key = %s", (name,)
    ).fetchone() == (0,), "the discarded target is empty"
    assert replication_leftovers(pool_admin, name) == []
    assert [e for e in support.events_for(core, name) if e.reason == "MigrationFailed"]

    # With the fault gone, changing the Tenant tries again, and it completes.
    support.patch_tenant(custom, name, displayName="try again")
    done = migrate(custom, name, "free")
    assert done["status"]["migration"]["phase"] == "Completed"
    assert support.condition(done, "MigrationFailed")["status"] == "False"
    running.finish()
    assert_nothing_lost(app, running)
