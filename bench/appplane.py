"""What tenant isolation costs the app plane: row-level security, and a whole request.

A pool tenant with `rows` notes shares the pool with neighbours holding as many. The app's page
query (`notes` of a project, in (created_at, id) order, 50 at a time) runs as the app's role with
the tenant setting, filtered by the RLS policy, against the same query with an explicit
`WHERE tenant_key =` as a role that bypasses RLS; one transaction per sample, the two series
interleaved, on the same server. Then the whole app-plane request (token, principal lookup and
rate limit, fence, route, tenant setting, the query, JSON) against the same query run alone
without any tenant context, and the app's `GET /healthz` for the framework's floor. Medians.
Run by `bench.suite`; targets: RLS at most 1.1x, the request at most 1.5x its query.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from kubernetes import client

from bench import cluster, report
from control_plane.core import security
from localplatform import stack
from tenantry_core import identity, routing, scopes, tokens

PAGE = (
    "SELECT id, project_id, title, body, created_at, updated_at FROM notes "
    "WHERE project_id = %(p)s {extra}ORDER BY created_at, id LIMIT 51"
)
NEIGHBOURS = 3


def run(platform: stack.Platform, *, quick: bool) -> list[report.Figure]:
    rows, rounds = (200, 50) if quick else (10_000, 300)
    custom = cluster.custom_api(platform)
    names = [f"bench-rls-{uuid.uuid4().hex[:8]}" for _ in range(1 + NEIGHBOURS)]
    with cluster.tier(custom, appRateLimitPerMinute=10_000_000) as tier:
        for name in names:
            cluster.create_tenant(custom, name, tier)
        try:
            return _measure(platform, custom, names, rows=rows, rounds=rounds)
        finally:
            cluster.delete_tenants(custom, names)


def _measure(
    platform: stack.Platform,
    custom: client.CustomObjectsApi,
    names: list[str],
    *,
    rows: int,
    rounds: int,
) -> list[report.Figure]:
    env = platform.env()
    admin_url = pool_admin_url(env)
    for name in names:
        cluster.wait_ready(custom, name, interval=0.05)
    projects = {name: seed(admin_url, name, rows) for name in names}
    tenant, project = names[0], projects[names[0]]
    with (
        psycopg.connect(env["TENANTRY_APP_DATABASE_URL"]) as app_conn,
        psycopg.connect(admin_url) as admin_conn,
    ):
        rls, explicit = _interleaved(
            {
                "rls": lambda: _page(app_conn, tenant, project, explicit=False),
                "explicit": lambda: _page(admin_conn, tenant, project, explicit=True),
            },
            rounds,
        ).values()
        bearer = token(admin_url, env, tenant)
        headers = {"Authorization": f"Bearer {bearer}"}
        with httpx.Client(base_url=env["APP_URL"], timeout=30, headers=headers) as http:
            url = f"/api/projects/{project}/notes?limit=50"
            request, alone, health = _interleaved(
                {
                    "request": lambda: http.get(url).raise_for_status(),
                    "alone": lambda: _alone(admin_conn, tenant, project),
                    "health": lambda: http.get("/healthz").raise_for_status(),
                },
                rounds,
            ).values()
    return [
        report.figure(
            f"App-plane page query with RLS, median ({rows} rows a tenant, "
            f"{NEIGHBOURS} neighbours; baseline explicit `WHERE`, no RLS)",
            rls,
            "ms",
            baseline=explicit,
            ratio_at_most=1.1,
        ),
        report.figure(
            "App-plane request (auth, tenant context, that query), median "
            "(baseline the query alone)",
            request,
            "ms",
            baseline=alone,
            ratio_at_most=1.5,
        ),
        report.figure("App-plane `GET /healthz`, median", health, "ms"),
    ]


def pool_admin_url(env: dict[str, str]) -> str:
    """The pool database as the platform's Postgres admin (past RLS)."""
    return (
        env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0] + "/" + env["TENANTRY_POOL_DATABASE"]
    )


def seed(admin_url: str, tenant: str, rows: int) -> uuid.UUID:
    """A project with `rows` notes for `tenant`, written past RLS; returns the project's id."""
    project = uuid.uuid4()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO projects (tenant_key, id, name) VALUES (%s, %s, 'bench')",
            (tenant, project),
        )
        conn.execute(
            "INSERT INTO notes (tenant_key, project_id, title, body) "
            "SELECT %s, %s, 'note ' || n, repeat('x', 100) FROM generate_series(1, %s) n",
            (tenant, project, rows),
        )
        conn.execute("ANALYZE notes")
    return project


def _page(
    conn: psycopg.Connection[Any], tenant: str, project: uuid.UUID, *, explicit: bool
) -> None:
    """One transaction as the app runs it: the tenant setting, then the page."""
    extra = "AND tenant_key = %(t)s " if explicit else ""
    with conn.transaction():
        conn.execute(
            "SELECT set_config(%(s)s, %(t)s, true)", {"s": routing.TENANT_SETTING, "t": tenant}
        )
        found = conn.execute(PAGE.format(extra=extra), {"p": project, "t": tenant}).fetchall()
    assert len(found) == 51, "the page query saw another tenant's rows or none"


def _alone(conn: psycopg.Connection[Any], tenant: str, project: uuid.UUID) -> None:
    """The request's query with no tenant context at all: one statement, no transaction."""
    conn.autocommit = True
    conn.execute(
        PAGE.format(extra="AND tenant_key = %(t)s "), {"p": project, "t": tenant}
    ).fetchall()
    conn.autocommit = False


def token(admin_url: str, env: dict[str, str], tenant: str) -> str:
    """An owner's access token for `tenant`, published as one of its principals, as the
    control plane would for a user of that tenant."""
    principal = tokens.Principal(
        uuid.uuid4(), uuid.uuid4(), identity.TenantKey(tenant), "owner", frozenset(scopes.ALL)
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {routing.PRINCIPALS_TABLE} "
            "(id, tenant_id, tenant_key, kind, permissions) VALUES (%s, %s, %s, 'user', %s)",
            (
                principal.user_id,
                principal.tenant_id,
                principal.tenant_key,
                sorted(principal.permissions),
            ),
        )
    return security.create_access_token(
        principal,
        signing_key=env["JWT_PRIVATE_KEY"],
        issuer="tenantry",
        audience="tenantry",
        expires=dt.timedelta(hours=1),
    )


def _interleaved(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each call's median in milliseconds, the series interleaved in blocks of ten after a
    warm-up, so that the machine's drift hits them alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(10):
            call()
    for _ in range(max(1, rounds // 10)):
        for name, call in calls.items():
            for _ in range(10):
                started = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - started)
    return {name: report.percentile(values, 0.5) * 1000 for name, values in samples.items()}
