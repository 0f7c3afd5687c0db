"""What the hardened control-plane API costs per request, and what it serves under load.

Sequential: the baseline is `GET /plans` (public, one indexed query). Against it, the same server
answers `GET /tenants/{id}` as a tenant owner (verify the EdDSA token, load the user and role,
take one request from the tenant's rate limit in Postgres, load the tenant), the same with an API
key, and `PATCH /tenants/{id}` with and without an Idempotency-Key. Latencies in milliseconds
over one keep-alive connection, the series interleaved so drift hits them alike.

Concurrent: 16 clients at once on a control-plane replica with production settings (several
uvicorn workers; in quick mode the platform's own, one worker): `GET /tenants/{id}` as the owner
against `GET /healthz` on the same server and load. Run by `bench.suite`; targets: the read's
throughput at least 0.7x the baseline's, its p99 at most 50 ms; sequentially, the read's p95 at
most 4x `GET /plans`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from kubernetes import client, config

from bench import report
from localplatform import procs, services, stack
from tenantry_core import resources

CLIENTS = 16
REPLICA, WORKERS = "control-plane-bench", 2


def timed(call: Callable[[], httpx.Response], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return samples


def run(platform: stack.Platform, *, quick: bool) -> list[report.Figure]:
    env = platform.env()
    kubeclient = config.new_client_from_config(config_file=str(platform.kubeconfig))
    tier = f"bench-{uuid.uuid4().hex[:6]}"
    tiers = client.CustomObjectsApi(kubeclient)
    tiers.create_cluster_custom_object(
        resources.GROUP,
        resources.VERSION,
        resources.TIER_PLURAL,
        {
            "apiVersion": resources.API_VERSION,
            "kind": resources.TIER_KIND,
            "metadata": {"name": tier},
            "spec": {"isolation": "pool", "rateLimitPerMinute": 10_000_000},
        },
    )
    try:
        with httpx.Client(base_url=env["API_URL"] + "/api/v1", timeout=30) as api:
            tid, owner, as_key = _tenant(api, env, tier)
            figures = _sequential(api, tid, owner, as_key, rounds=50 if quick else 200)
        if quick:  # the platform's own control plane: starting a replica takes longer than this
            figures += _concurrent(env["API_URL"], tid, owner, workers=1, seconds=1.0)
        else:
            figures += _replica_concurrent(platform, tid, owner)
    finally:
        tiers.delete_cluster_custom_object(
            resources.GROUP, resources.VERSION, resources.TIER_PLURAL, tier
        )
    return figures


def _tenant(
    api: httpx.Client, env: dict[str, str], tier: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    """A signed-up tenant on `tier`: its id, its owner's and an API key's headers."""
    deadline = time.monotonic() + 300
    while tier not in {t["name"] for t in api.get("/tiers").json()}:
        if time.monotonic() > deadline:
            raise TimeoutError("tier catalog not loaded")
        time.sleep(0.2)
    body = api.post(
        "/signup",
        json={
            "company": f"Bench {uuid.uuid4().hex[:6]}",
            "email": f"owner@{uuid.uuid4().hex[:8]}.example.com",
            "password": "correct horse battery staple",
            "tier": "free",
        },
    ).json()
    tid = body["tenant"]["id"]
    owner = {"Authorization": f"Bearer {body['token']['access_token']}"}
    admin_login = api.post(
        "/auth/login",
        json={
            "email": env["FIRST_PLATFORM_ADMIN_EMAIL"],
            "password": env["FIRST_PLATFORM_ADMIN_PASSWORD"],
        },
    ).json()
    admin = {"Authorization": f"Bearer {admin_login['access_token']}"}
    api.patch(f"/tenants/{tid}", headers=admin, json={"tier": tier}).raise_for_status()
    key = api.post(
        f"/tenants/{tid}/api-keys", headers=owner, json={"name": "bench", "scopes": ["tenant:read"]}
    ).json()["key"]
    return tid, owner, {"Authorization": f"Bearer {key}"}


def _sequential(
    api: httpx.Client, tid: str, owner: dict[str, str], as_key: dict[str, str], *, rounds: int
) -> list[report.Figure]:
    company = api.get(f"/tenants/{tid}", headers=owner).json()["company"]

    def patch(idempotent: bool) -> Callable[[], httpx.Response]:
        def call() -> httpx.Response:
            headers = {**owner, **({"Idempotency-Key": uuid.uuid4().hex} if idempotent else {})}
            return api.patch(f"/tenants/{tid}", headers=headers, json={"company": company})

        return call

    calls: dict[str, Callable[[], httpx.Response]] = {
        "baseline": lambda: api.get("/plans"),
        "owner": lambda: api.get(f"/tenants/{tid}", headers=owner),
        "key": lambda: api.get(f"/tenants/{tid}", headers=as_key),
        "write": patch(idempotent=False),
        "idempotent": patch(idempotent=True),
    }
    for call in calls.values():  # warm-up: imports, connection pools, plans
        timed(call, 10)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(max(1, rounds // 50)):
        for name, call in calls.items():
            samples[name] += timed(call, min(rounds, 50))
    p95 = {name: report.percentile(values, 0.95) * 1000 for name, values in samples.items()}
    base = p95["baseline"]
    return [
        report.figure(
            "API `GET /tenants/{id}` as owner, sequential, p95 (baseline `GET /plans`)",
            p95["owner"],
            "ms",
            baseline=base,
            ratio_at_most=4,
        ),
        report.figure(
            "API `GET /tenants/{id}` with an API key, p95", p95["key"], "ms", baseline=base
        ),
        report.figure("API `PATCH /tenants/{id}`, p95", p95["write"], "ms", baseline=base),
        report.figure(
            "API `PATCH /tenants/{id}` with Idempotency-Key, p95",
            p95["idempotent"],
            "ms",
            baseline=base,
        ),
    ]


def _replica_concurrent(
    platform: stack.Platform, tid: str, owner: dict[str, str]
) -> list[report.Figure]:
    """`_concurrent` against a replica of `WORKERS` uvicorn workers, started for it."""
    with replica(platform) as base_url:
        return _concurrent(base_url, tid, owner, workers=WORKERS, seconds=10.0)


@contextmanager
def replica(platform: stack.Platform) -> Iterator[str]:
    """A control-plane replica of `WORKERS` uvicorn workers beside the platform's own (the same
    database, signing key and settings), while in the block: its base URL."""
    port = platform.port(REPLICA)
    args = [*procs.uvicorn_args("control_plane.main:app", port), "--workers", str(WORKERS)]
    env = {**platform.env(), **platform.control_plane_env}
    platform.processes[REPLICA] = services.start(
        platform.supervisor, REPLICA, args, env=env, health_port=port
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        platform.stop_process(REPLICA)


def _concurrent(
    base_url: str, tid: str, owner: dict[str, str], *, workers: int, seconds: float
) -> list[report.Figure]:
    """`CLIENTS` clients at once on the control plane at `base_url`: the tenant read against
    `GET /healthz`."""
    health = asyncio.run(_load(f"{base_url}/healthz", {}, seconds))
    read = asyncio.run(_load(f"{base_url}/api/v1/tenants/{tid}", owner, seconds))
    return [
        report.figure(
            f"API `GET /tenants/{{id}}`, {CLIENTS} concurrent clients, {workers} uvicorn "
            "worker(s), throughput (baseline `GET /healthz`)",
            read["throughput"],
            "req/s",
            baseline=health["throughput"],
            ratio_at_least=0.7,
        ),
        report.figure(
            f"API `GET /tenants/{{id}}`, {CLIENTS} concurrent clients, p99",
            read["p99_ms"],
            "ms",
            baseline=health["p99_ms"],
            at_most=50,
        ),
        report.figure("API errors under concurrent load", read["errors"] + health["errors"], ""),
    ]


async def _load(url: str, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    """`CLIENTS` clients sending GET `url` back to back for `seconds` after a short warm-up:
    completed requests a second, p99 latency, non-200 answers."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=limits) as http:

        async def one_client(until: float, record: bool) -> None:
            nonlocal errors
            while time.monotonic() < until:
                started = time.perf_counter()
                response = await http.get(url)
                if record:
                    latencies.append(time.perf_counter() - started)
                    errors += response.status_code != 200

        warm = time.monotonic() + min(1.0, seconds)
        await asyncio.gather(*(one_client(warm, False) for _ in range(CLIENTS)))
        started = time.monotonic()
        await asyncio.gather(*(one_client(started + seconds, True) for _ in range(CLIENTS)))
        elapsed = time.monotonic() - started
    return {
        "throughput": len(latencies) / elapsed,
        "p99_ms": report.percentile(latencies, 0.99) * 1000,
        "errors": errors,
    }
