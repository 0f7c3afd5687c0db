"""The operator SIGKILLed at random points (seeded; the seed is printed) while a few tenants are
created, moved pool → silo → pool by live migrations, and deleted: every tenant converges, no
child or row is duplicated, and no database, role, replication slot, publication or
subscription is left but what the deletion policy keeps. `TENANTRY_FAULT_SEED` repeats a run."""

from __future__ import annotations

import functools
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support
from tests.integration import test_offboarding_migration as offboarding

pytestmark = [pytest.mark.integration, pytest.mark.slow]
POLICIES = ("Delete", "Retain", "Delete")  # one Tenant each
KILLS = (5, 7)  # per stage, at least: 4 stages make at least 20 kills
PLACEMENT = {"enterprise": "silo", "free": "pool"}


@pytest.fixture
def operator_back(platform: stack.Platform) -> Iterator[stack.Platform]:
    """The operator runs (as usual) after the test, whatever it killed."""
    try:
        yield platform
    finally:
        if "operator" not in platform.processes:
            platform.start_operator()


class Killer:
    """SIGKILLs the operator after random delays and starts it again, counting the kills."""

    def __init__(self, platform: stack.Platform, rng: random.Random) -> None:
        self.platform, self.rng, self.kills = platform, rng, 0

    def storm(self) -> None:
        for _ in range(self.rng.randint(*KILLS)):
            time.sleep(self.rng.uniform(0.1, 2.5))  # from its start: at a random point of work
            self.platform.kill_operator()
            self.kills += 1
            self.platform.start_operator()


def wait_all(names: list[str], probe: Callable[[str], Any], what: str) -> None:
    for name in names:
        eventually(functools.partial(probe, name), timeout=120, what=f"{name} {what}")


def routing_rows(pool_admin: psycopg.Connection[Any], name: str) -> int:
    found = pool_admin.execute(
        "SELECT count(*) FROM tenantry.tenants WHERE tenant_key = %s", (name,)
    ).fetchone()
    return int(found[0]) if found else 0


def silo_rows(
    env: dict[str, str], pool_admin: psycopg.Connection[Any], database: str, key: str
) -> int:
    """The tenant's notes in a silo database; 0 when there is no such database."""
    found = pool_admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
    return offboarding.silo_rows(env, database, key) if found.fetchone() else 0


def no_duplicate_workload(kube: client.ApiClient, name: str, silo: bool) -> bool:
    """One Deployment with one active ReplicaSet (a silo), or none (the shared app serves)."""
    apps = client.AppsV1Api(kube)
    namespace = f"tenant-{name}"
    deployments = [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items]
    active = [
        r for r in apps.list_namespaced_replica_set(namespace).items if (r.spec.replicas or 0) > 0
    ]
    return (deployments, len(active)) == ((["app"], 1) if silo else ([], 0))


def test_operator_killed_at_random_points_converges(
    operator_back: stack.Platform,
    custom: client.CustomObjectsApi,
    kube: client.ApiClient,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    seed = int(os.environ.get("TENANTRY_FAULT_SEED") or random.randrange(2**32))
    print(f"fault seed {seed} (TENANTRY_FAULT_SEED={seed} repeats the kills)")
    killer = Killer(operator_back, random.Random(seed))
    names = [support.unique("fault") for _ in POLICIES]
    before = offboarding.inventory(env, *names)

    for name, policy in zip(names, POLICIES, strict=True):
        support.create_tenant(custom, name, tier="free", deletionPolicy=policy)
    killer.storm()
    uids = {
        name: support.wait_ready(custom, name, timeout=120)["metadata"]["uid"] for name in names
    }
    for name in names:
        offboarding.seed(pool_admin, name)

    for tier in ("enterprise", "free"):
        placement = PLACEMENT[tier]
        for name in names:
            support.patch_tenant(custom, name, tier=tier)
        killer.storm()
        wait_all(names, functools.partial(offboarding.moved, custom, placement=placement), "moved")
        for name in names:
            support.wait_ready(custom, name, timeout=120)
            eventually(
                functools.partial(no_duplicate_workload, kube, name, placement == "silo"),
                timeout=60,
                what=f"{name}: one workload",
            )
            assert routing_rows(pool_admin, name) == 1
            silo = "tenant_" + name.replace("-", "_")
            rows = (offboarding.pool_rows(pool_admin, name), silo_rows(env, pool_admin, silo, name))
            kept = dict(zip(names, POLICIES, strict=True))[name] == "Retain"
            # No row twice: the served copy has the project and note; a kept source copy too.
            assert rows == ((2 if kept else 0, 1) if placement == "silo" else (2, int(kept))), name

    for name in names:
        custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", name)
    killer.storm()
    wait_all(names, lambda name: support.get_tenant(custom, name) is None, "deleted")

    after = offboarding.inventory(env, *names, *uids.values())
    assert killer.kills >= 20
    assert after.databases == before.databases, "no silo database is left, nor retained"
    assert after.roles == before.roles
    assert (after.slots, after.publications, after.subscriptions) == (
        before.slots,
        before.publications,
        before.subscriptions,
    )
    for name, policy in zip(names, POLICIES, strict=True):
        assert routing_rows(pool_admin, name) == (1 if policy == "Retain" else 0)  # marked retained
        assert offboarding.pool_rows(pool_admin, name) == 0
        retained = offboarding.pool_rows(pool_admin, offboarding.retained(uids[name]))
        assert retained == (2 if policy == "Retain" else 0), name
