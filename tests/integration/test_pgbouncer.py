"""The app plane behind PgBouncer in transaction mode: a second app-plane replica whose pool
database URL is PgBouncer's (2 server connections), on the session platform's Postgres.

Proves that the per-transaction tenant context holds when tenants share server connections,
that the migration fence's advisory xact lock still holds requests back, and that many
concurrent clients use at most the pool's server connections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import psycopg.rows
import pytest
from kubernetes import client

from localplatform import devenv, pgbouncer, procs, services, stack
from tenantry_core import routing
from tests.conftest import eventually
from tests.integration import support

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(pgbouncer.binary() is None, reason="pgbouncer is not installed"),
]

POOL_SIZE = 2  # server connections per database and user
ADMIN_PASSWORD = "pgbouncer-admin"
REPLICA = "app-plane-pgbouncer"


@pytest.fixture(scope="module")
def bouncer(platform: stack.Platform, env: dict[str, str]) -> Iterator[pgbouncer.PgBouncer]:
    assert platform.pg is not None
    running = pgbouncer.PgBouncer(
        state_dir=platform.state_dir / "pgbouncer",
        port=platform.port("pgbouncer"),
        server_port=platform.pg.port,
        databases=[devenv.POOL_DB],
        users={
            routing.APP_ROLE: env["TENANTRY_APP_DB_PASSWORD"],
            pgbouncer.ADMIN_USER: ADMIN_PASSWORD,
        },
        pool_size=POOL_SIZE,
    )
    process = running.start(platform.supervisor)
    yield running
    platform.supervisor.stop(process)


@pytest.fixture(scope="module")
def behind(
    platform: stack.Platform, env: dict[str, str], bouncer: pgbouncer.PgBouncer
) -> Iterator[httpx.Client]:
    """The app plane's API on a replica that reaches the pool database only through PgBouncer."""
    url = bouncer.url(devenv.POOL_DB, routing.APP_ROLE)
    port = platform.port(REPLICA)
    process = services.start(
        platform.supervisor,
        REPLICA,
        procs.uvicorn_args("app_plane.main:app", port),
        env={
            **env,
            "TENANTRY_APP_DATABASE_URL": url,
            "APP_DATABASE_URL": url,
            "TENANTRY_DB_PREPARED_STATEMENTS": "false",
        },
        health_port=port,
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api", timeout=60) as http:
        yield http
    platform.supervisor.stop(process)


@pytest.fixture(scope="module")
def tenants(
    custom: client.CustomObjectsApi, env: dict[str, str], api: httpx.Client
) -> list[tuple[str, dict[str, str]]]:
    """Two Ready pool tenants on the home shard, with their owners' tokens (`api` reads the
    mail they come by)."""
    names = [support.unique("bouncer") for _ in range(2)]
    for name in names:
        support.create_tenant(custom, name, tier="free")
    for name in names:
        support.wait_ready(custom, name, timeout=60)
    return [(name, support.token_for(env, name)) for name in names]


def show(console: psycopg.Connection[Any], what: str) -> list[dict[str, Any]]:
    """Rows of the admin console's `SHOW what` for the pool database."""
    with console.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(f"SHOW {what}").fetchall()
    return [row for row in rows if row["database"] == devenv.POOL_DB]


def test_tenants_interleaved_on_shared_connections_see_only_their_rows(
    behind: httpx.Client, tenants: list[tuple[str, dict[str, str]]]
) -> None:
    projects = {
        name: behind.post("/projects", json={"name": name}, headers=headers).json()["id"]
        for name, headers in tenants
    }

    def write(job: tuple[int, str, dict[str, str]]) -> int:
        number, name, headers = job
        made = behind.post(
            f"/projects/{projects[name]}/notes", json={"title": f"{name}-{number}"}, headers=headers
        )
        return made.status_code

    jobs = [(n, name, headers) for n in range(15) for name, headers in tenants]  # interleaved
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(write, jobs)) == {201}

    for name, headers in tenants:
        notes = support.every_page(behind, f"/projects/{projects[name]}/notes", headers)
        assert sorted(note["title"] for note in notes) == sorted(f"{name}-{n}" for n in range(15))
        listed = behind.get("/projects", headers=headers).json()
        assert [project["id"] for project in listed] == [projects[name]]
    (_, first_headers), (second, _) = tenants
    other = behind.get(f"/projects/{projects[second]}/notes", headers=first_headers)
    assert other.status_code == 404  # the other tenant's project does not exist for this one


def test_the_migration_fence_holds_requests_behind_pgbouncer(
    behind: httpx.Client, pool_admin: psycopg.Connection[Any], tenants: list[tuple[str, Any]]
) -> None:
    name, headers = tenants[0]
    answered: list[int] = []
    with pool_admin.transaction():  # what a live migration holds while it switches the route
        pool_admin.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (routing.FENCE_CLASS, name)
        )
        request = threading.Thread(
            target=lambda: answered.append(behind.get("/projects", headers=headers).status_code)
        )
        request.start()
        eventually(
            lambda: (
                pool_admin.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND mode = 'ShareLock' AND classid = %s "
                    "AND objid = (hashtext(%s)::bigint & 4294967295)::oid",  # this tenant's
                    (routing.FENCE_CLASS, name),
                ).fetchone()
                == (1,)
            ),
            timeout=60,
            what="the request waiting on the fence",
        )
        assert answered == []
    request.join(timeout=30)
    assert answered == [200]


def test_many_clients_use_at_most_the_pool_of_server_connections(
    behind: httpx.Client, bouncer: pgbouncer.PgBouncer, tenants: list[tuple[str, Any]]
) -> None:
    seen_servers: list[int] = []
    seen_clients: list[int] = []
    done = threading.Event()

    def sample() -> None:
        url = bouncer.url("pgbouncer", pgbouncer.ADMIN_USER)
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as console:
            while not done.is_set():
                seen_servers.append(len(show(console, "SERVERS")))
                pools = show(console, "POOLS")
                seen_clients.append(sum(p["cl_active"] + p["cl_waiting"] for p in pools))
                done.wait(0.02)

    def call(index: int) -> int:
        headers = tenants[index % 2][1]
        return behind.get("/projects", headers=headers).status_code

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(call, range(240)))
    finally:
        done.set()
        sampler.join(timeout=10)
    assert set(statuses) == {200}
    assert max(seen_clients) > POOL_SIZE, "the load never had more clients than server connections"
    assert 0 < max(seen_servers) <= POOL_SIZE
