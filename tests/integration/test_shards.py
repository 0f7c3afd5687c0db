"""Pool shards: new pooled tenants placed on the shards a Tier allows by its policy, or on the
one the Tenant names; the app plane serves them there; an unknown server is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tenantry_core import urls
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.fixture
def shards(env: dict[str, str]) -> Iterator[dict[str, psycopg.Connection[Any]]]:
    """Superuser connections to the local platform's extra pool shards, by name."""
    declared = json.loads(env["TENANTRY_POOL_SHARDS"])
    conns = {name: psycopg.connect(url, autocommit=True) for name, url in declared.items()}
    yield conns
    for conn in conns.values():
        conn.close()


def on_shards(pool_admin: psycopg.Connection[Any]) -> dict[str, int]:
    found = pool_admin.execute(
        "SELECT server, count(*) FROM tenantry.tenants WHERE retained_at IS NULL GROUP BY 1"
    ).fetchall()
    return {str(server): int(count) for server, count in found}


def notes_of(conn: psycopg.Connection[Any], name: str, schema: str = "public") -> int:
    found = conn.execute(
        f'SELECT count(*) FROM "{schema}".notes WHERE tenant_key = %s', (name,)
    ).fetchone()
    return int(found[0]) if found else 0


def use(app: httpx.Client, env: dict[str, str], name: str, notes: int) -> dict[str, str]:
    headers = support.token_for(env, name)
    project = app.post("/projects", json={"name": "sharded"}, headers=headers)
    assert project.status_code == 201, project.text
    for number in range(notes):
        made = app.post(
            f"/projects/{project.json()['id']}/notes", json={"title": f"n{number}"}, headers=headers
        )
        assert made.status_code == 201, made.text
    listed = support.every_page(app, f"/projects/{project.json()['id']}/notes", headers)
    assert len(listed) == notes
    return headers


def placed_by(core: client.CoreV1Api, name: str) -> tuple[str, dict[str, int]]:
    """The shard the Placed event names and the tenants it counted on each candidate."""
    told = [e.message for e in support.events_for(core, name) if e.reason == "Placed"]
    assert len(told) == 1, told
    found = re.fullmatch(r"Placed on pool shard (\S+) by policy FewestTenants \((.*)\)", told[0])
    assert found, told[0]
    loads = re.findall(r"(\S+) (\d+) tenants/\d+ rows", found[2])
    return found[1], {server: int(count) for server, count in loads}


def test_the_policy_spreads_new_pool_tenants_over_the_tiers_shards(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
    shards: dict[str, psycopg.Connection[Any]],
) -> None:
    tier = support.unique("spread")
    support.make_tier(custom, tier, placement={"servers": ["shard-b", "shard-c"]})
    placed = []
    for _ in range(2):
        name = support.unique("sharded")
        support.create_tenant(custom, name, tier=tier, deletionPolicy="Delete")
        tenant = support.wait_ready(custom, name)
        # Other tests place tenants on the shards meanwhile: the Placed event tells the loads
        # the operator weighed, and the shard it chose holds the fewest of them.
        server, weighed = placed_by(core, name)
        assert tenant["status"]["server"] == server
        assert set(weighed) == {"shard-b", "shard-c"}
        assert weighed[server] == min(weighed.values())
        placed.append((name, server))

    name, server = placed[0]
    other, _ = placed[1]
    route = pool_admin.execute(
        "SELECT placement, server, db_name FROM tenantry.tenants WHERE tenant_key = %s", (name,)
    ).fetchone()
    database = shards[server].info.dbname
    assert route == ("pool", server, database)
    tenant = support.get_tenant(custom, name) or {}
    assert tenant["status"]["database"]["name"] == database

    # The app plane writes and reads through the shard; main holds none of the tenant's rows.
    headers = use(app, env, name, 3)
    assert notes_of(shards[server], name) == 3
    assert notes_of(pool_admin, name) == 0
    # Row-level security on the shard: the other tenant sees none of them.
    other_headers = support.token_for(env, other)
    assert app.get("/projects", headers=other_headers).json() == []
    assert len(app.get("/projects", headers=headers).json()) == 1

    # The catalog of servers lists every shard, and the operator refreshes its figures.
    declared = dict(
        pool_admin.execute("SELECT name, kind FROM tenantry.servers WHERE kind = 'pool'")
    )
    assert declared == {"main": "pool", "shard-b": "pool", "shard-c": "pool"}

    # Deleted with deletionPolicy Delete: its rows, guard row and routing row are gone.
    support.delete_tenant(custom, name)
    assert notes_of(shards[server], name) == 0
    for conn in (pool_admin, shards[server]):
        assert (
            conn.execute("SELECT 1 FROM tenantry.tenants WHERE tenant_key = %s", (name,)).fetchone()
            is None
        )


def test_a_tenant_may_name_its_shard_bridge_there_too(
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
    shards: dict[str, psycopg.Connection[Any]],
) -> None:
    name = support.unique("bridged")
    support.create_tenant(custom, name, tier="pro", placement={"server": "shard-c"})
    tenant = support.wait_ready(custom, name)
    assert (tenant["status"]["placement"], tenant["status"]["server"]) == ("bridge", "shard-c")
    schema = "tenant_" + name.replace("-", "_")
    use(app, env, name, 2)
    assert notes_of(shards["shard-c"], name, schema) == 2
    assert (
        pool_admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        is None
    )


def test_an_unknown_server_is_refused_and_nothing_is_made(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = support.unique("nowhere")
    support.create_tenant(custom, name, tier="free", placement={"server": "shard-z"})

    def refused() -> dict[str, Any] | None:
        tenant = support.get_tenant(custom, name)
        cond = support.condition(tenant, "DatabaseReady")
        return cond if cond.get("reason") == "UnknownServer" else None

    cond = eventually(refused, what=f"{name} refused")
    assert cond["status"] == "False"
    assert "shard-z" in cond["message"]
    eventually(
        lambda: any(e.reason == "UnknownServer" for e in support.events_for(core, name)),
        what="an UnknownServer Event",
    )
    assert (
        pool_admin.execute(
            "SELECT 1 FROM tenantry.tenants WHERE tenant_key = %s", (name,)
        ).fetchone()
        is None
    )
    # Naming a declared shard lets it go on.
    support.patch_tenant(custom, name, placement={"server": "shard-b"})
    assert support.wait_ready(custom, name)["status"]["server"] == "shard-b"


def test_a_tier_matching_a_label_places_each_tenant_on_a_server_labelled_alike(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    env: dict[str, str],
    shards: dict[str, psycopg.Connection[Any]],
) -> None:
    """Data residency: the local platform labels shard-c `region: eu`, main and shard-b `us`."""
    region = "topology.tenantry.dev/region"
    tier = support.unique("resident")
    support.make_tier(custom, tier, placement={"matchLabel": region})
    eu = support.unique("eu")
    support.create_tenant(custom, eu, tier=tier, labels={region: "eu"}, deletionPolicy="Delete")
    assert support.wait_ready(custom, eu)["status"]["server"] == "shard-c"
    use(app, env, eu, 1)
    assert notes_of(shards["shard-c"], eu) == 1
    (told,) = [e.message for e in support.events_for(core, eu) if e.reason == "Placed"]
    assert f"among servers labelled {region}=eu (shard-c " in told

    # A move into a silo keeps to the label: the one eu silo server (silo-b) is cordoned, so
    # the move fails and the data stays; naming silo-b moves it there.
    support.patch_tenant(custom, eu, placement={"isolation": "silo"})

    def failed() -> dict[str, Any] | None:
        migration = (support.get_tenant(custom, eu) or {}).get("status", {}).get("migration")
        return migration if (migration or {}).get("phase") == "Failed" else None

    migration = eventually(failed, what=f"{eu}'s move refused")
    assert migration["reason"] == "UnknownServer"
    assert f"labelled {region}=eu" in migration["message"]
    assert notes_of(shards["shard-c"], eu) == 1
    support.patch_tenant(custom, eu, placement={"server": "silo-b"})

    def on_silo_b() -> dict[str, Any] | None:
        tenant = support.get_tenant(custom, eu) or {}
        status = tenant.get("status") or {}
        placed = (status.get("placement"), status.get("server")) == ("silo", "silo-b")
        ended = (status.get("migration") or {}).get("phase") == "Completed"  # source purged
        return tenant if placed and ended and status.get("phase") == "Ready" else None

    eventually(on_silo_b, timeout=90, what=f"{eu} on silo-b")
    assert notes_of(shards["shard-c"], eu) == 0
    assert len(app.get("/projects", headers=support.token_for(env, eu)).json()) == 1

    apac = support.unique("apac")
    support.create_tenant(custom, apac, tier=tier, labels={region: "apac"})

    def refused() -> dict[str, Any] | None:
        cond = support.condition(support.get_tenant(custom, apac), "DatabaseReady")
        return cond if cond.get("reason") == "UnknownServer" else None

    assert f"labelled {region}=apac" in eventually(refused, what=f"{apac} refused")["message"]


def test_a_new_silo_goes_to_the_silo_server_it_names_even_a_cordoned_one(
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = support.unique("silob")
    support.create_tenant(custom, name, tier="enterprise", placement={"server": "silo-b"})
    tenant = support.wait_ready(custom, name, timeout=90)
    assert (tenant["status"]["placement"], tenant["status"]["server"]) == ("silo", "silo-b")
    database = "tenant_" + name.replace("-", "_")
    silos = json.loads(env["TENANTRY_SILO_SERVERS"])
    for server, url in silos.items():
        with psycopg.connect(url, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            assert (found.fetchone() is not None) is (server == "silo-b"), server
    route = pool_admin.execute(
        "SELECT placement, server FROM tenantry.tenants WHERE tenant_key = %s", (name,)
    ).fetchone()
    assert route == ("silo", "silo-b")
    use(app, env, name, 2)
    with psycopg.connect(urls.with_database(silos["silo-b"], database)) as conn:
        assert notes_of(conn, name) == 2


def test_a_retained_shard_tenant_is_kept_on_its_shard_and_served_no_more(
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
    shards: dict[str, psycopg.Connection[Any]],
) -> None:
    name = support.unique("keptshard")
    support.create_tenant(
        custom, name, tier="free", deletionPolicy="Retain", placement={"server": "shard-b"}
    )
    uid = support.wait_ready(custom, name)["metadata"]["uid"]
    use(app, env, name, 2)
    support.delete_tenant(custom, name)
    kept = "retained_" + uid.replace("-", "").lower()
    assert notes_of(shards["shard-b"], kept) == 2
    assert notes_of(shards["shard-b"], name) == 0
    for conn in (pool_admin, shards["shard-b"]):
        row = conn.execute(
            "SELECT retained_at IS NOT NULL FROM tenantry.tenants WHERE tenant_key = %s", (name,)
        ).fetchone()
        assert row == (True,)
