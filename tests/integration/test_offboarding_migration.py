"""Offboarding a tenant a live migration touched: after a completed move whose source copy was
kept (deletionPolicy Retain), and in the middle of a move. Nothing is left behind but what the
deletion policy keeps: databases, roles, replication slots, publications and subscriptions are
listed before and after, and compared."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration
STEP_PAUSE = {"TENANTRY_MIGRATION_STEP_PAUSE": "1.5"}


@dataclass(frozen=True)
class Inventory:
    """What the tenants of a Postgres server own there, by name."""

    databases: frozenset[str]
    roles: frozenset[str]
    slots: frozenset[str]
    publications: frozenset[str]  # "<database>/<publication>"
    subscriptions: frozenset[str]


def inventory(env: dict[str, str], *ours: str) -> Inventory:
    """List the server's databases, roles, slots, publications (in every database that takes
    connections) and subscriptions that name one of `ours` (tenant keys, uids): other tests'
    tenants, being made or removed meanwhile on the same server, are none of this test's."""
    inv = _inventory(env)
    tokens = {t for o in ours for t in (o, o.replace("-", "_"), o.replace("-", ""))}

    def mine(items: frozenset[str]) -> frozenset[str]:
        return frozenset(i for i in items if any(t in i for t in tokens))

    return Inventory(
        mine(inv.databases),
        mine(inv.roles),
        mine(inv.slots),
        mine(inv.publications),
        mine(inv.subscriptions),
    )


def _inventory(env: dict[str, str]) -> Inventory:
    admin = env["TENANTRY_POSTGRES_ADMIN_URL"]
    base = admin.rsplit("/", 1)[0]
    with psycopg.connect(admin, autocommit=True) as conn:
        databases = [
            str(r[0])
            for r in conn.execute("SELECT datname FROM pg_database WHERE NOT datistemplate")
        ]
        roles = [str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles")]
        slots = [str(r[0]) for r in conn.execute("SELECT slot_name FROM pg_replication_slots")]
        subscriptions = [str(r[0]) for r in conn.execute("SELECT subname FROM pg_subscription")]
        open_ones = [
            str(r[0])
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn"
            )
        ]
    publications = []
    for database in open_ones:
        try:
            with psycopg.connect(f"{base}/{database}", autocommit=True) as conn:
                publications += [
                    f"{database}/{r[0]}" for r in conn.execute("SELECT pubname FROM pg_publication")
                ]
        except psycopg.OperationalError:
            continue  # dropped meanwhile
    return Inventory(
        frozenset(databases),
        frozenset(roles),
        frozenset(slots),
        frozenset(publications),
        frozenset(subscriptions),
    )


def pool_rows(pool_admin: psycopg.Connection[Any], key: str) -> int:
    """The rows keyed `key` in the pool's tenant tables (projects and notes), past RLS."""
    found = pool_admin.execute(
        "SELECT (SELECT count(*) FROM projects WHERE tenant_key = %(k)s)"
        " + (SELECT count(*) FROM notes WHERE tenant_key = %(k)s)",
        {"k": key},
    ).fetchone()
    return int(found[0]) if found else 0


def seed(pool_admin: psycopg.Connection[Any], key: str) -> None:
    """A project with a note of the tenant's in the pool, as the superuser."""
    project = pool_admin.execute(
        "INSERT INTO projects (tenant_key, name) VALUES (%s, 'kept?') RETURNING id", (key,)
    ).fetchone()
    assert project is not None
    pool_admin.execute(
        "INSERT INTO notes (tenant_key, project_id, title) VALUES (%s, %s, 'n')",
        (key, project[0]),
    )


def migration_phase(custom: client.CustomObjectsApi, name: str) -> str:
    status = (support.get_tenant(custom, name) or {}).get("status") or {}
    return str((status.get("migration") or {}).get("phase", ""))


def moved(custom: client.CustomObjectsApi, name: str, placement: str) -> bool:
    status = (support.get_tenant(custom, name) or {}).get("status") or {}
    migration = status.get("migration") or {}
    return (migration.get("phase"), migration.get("target"), status.get("placement")) == (
        "Completed",
        placement,
        placement,
    )


def retained(uid: str) -> str:
    return "retained_" + uid.replace("-", "")


def silo_rows(env: dict[str, str], database: str, key: str) -> int:
    url = env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0] + "/" + database
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT count(*) FROM notes WHERE tenant_key = %s", (key,)).fetchone()
    return int(found[0]) if found else 0


@pytest.mark.parametrize("tiers", [("enterprise",), ("enterprise", "free")], ids=["silo", "back"])
def test_kept_migration_source_then_delete_with_retain(
    tiers: tuple[str, ...],
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    """Each move keeps its source copy (Retain); deleting the Tenant then retains one copy, the
    one it was served from, drops the stale ones and drops the role (whose grants are left in
    every database a copy is in)."""
    name = support.unique("kept")
    silo = "tenant_" + name.replace("-", "_")
    before = inventory(env, name)
    support.create_tenant(custom, name, tier="free")  # deletionPolicy Retain, the default
    uid = support.wait_ready(custom, name)["metadata"]["uid"]
    seed(pool_admin, name)
    for tier in tiers:
        placement = {"enterprise": "silo", "free": "pool"}[tier]
        support.patch_tenant(custom, name, tier=tier)
        eventually(
            functools.partial(moved, custom, name, placement), timeout=90, what=f"on {placement}"
        )
    assert pool_rows(pool_admin, name) == 2, "the pool copy is kept (Retain)"
    assert silo_rows(env, silo, name) == 1, "the silo copy is kept (Retain)"

    support.delete_tenant(custom, name)
    after = inventory(env, name, uid)
    assert after.roles == before.roles, "the role is dropped"
    assert (after.slots, after.publications, after.subscriptions) == (
        before.slots,
        before.publications,
        before.subscriptions,
    )
    # One copy is retained under the uid-bound name; the stale one is gone, so a new Tenant of
    # the same name finds nothing.
    assert pool_rows(pool_admin, name) == 0
    if tiers[-1] == "enterprise":
        assert after.databases - before.databases == {retained(uid)}
        assert silo_rows(env, retained(uid), retained(uid)) == 1
        assert pool_rows(pool_admin, retained(uid)) == 0
    else:
        assert after.databases == before.databases
        assert pool_rows(pool_admin, retained(uid)) == 2


@pytest.fixture
def slow_operator(platform: stack.Platform) -> Iterator[stack.Platform]:
    """An operator that pauses after each migration step, so a test can stop it there."""
    platform.stop_operator()
    platform.start_operator(STEP_PAUSE)
    try:
        yield platform
    finally:
        platform.stop_operator()
        platform.start_operator()


def replicating(env: dict[str, str], name: str) -> bool:
    """The tenant's slot, publication and subscription all exist."""
    mig = "tenantry_mig_" + name.replace("-", "_")
    found = inventory(env, name)
    return (
        mig in found.slots
        and mig in found.subscriptions
        and any(p.endswith("/" + mig) for p in found.publications)
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "phase"),
    [("Delete", "CatchingUp"), ("Retain", "CatchingUp"), ("Retain", "CleaningUp")],
)
def test_delete_during_a_live_migration_leaves_one_copy_or_none(
    policy: str,
    phase: str,
    slow_operator: stack.Platform,
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    """The operator is stopped mid-migration (replicating; before or after the switch), the
    Tenant deleted, the operator started: both copies, the subscription, the slot and the
    publication go by the policy."""
    name = support.unique("moving")
    silo = "tenant_" + name.replace("-", "_")
    before = inventory(env, name)
    support.create_tenant(custom, name, tier="free", deletionPolicy=policy)
    uid = support.wait_ready(custom, name)["metadata"]["uid"]
    seed(pool_admin, name)
    support.patch_tenant(custom, name, tier="enterprise")
    eventually(
        lambda: migration_phase(custom, name) == phase, timeout=60, what=f"migration at {phase}"
    )
    slow_operator.kill_operator()
    assert replicating(env, name)
    assert silo_rows(env, silo, name) == 1, "both copies exist"
    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", name)
    slow_operator.start_operator()
    eventually(lambda: support.get_tenant(custom, name) is None, timeout=60, what="deleted")

    after = inventory(env, name, uid)
    assert after.roles == before.roles
    assert (after.slots, after.publications, after.subscriptions) == (
        before.slots,
        before.publications,
        before.subscriptions,
    )
    assert pool_rows(pool_admin, name) == 0
    kept = retained(uid)
    if policy == "Delete":
        assert after.databases == before.databases
        assert pool_rows(pool_admin, kept) == 0
    elif phase == "CatchingUp":  # not switched yet: the pool copy is the one retained
        assert after.databases == before.databases
        assert pool_rows(pool_admin, kept) == 2
    else:  # switched: the silo is the one retained
        assert after.databases - before.databases == {kept}
        assert silo_rows(env, kept, kept) == 1
        assert pool_rows(pool_admin, kept) == 0
