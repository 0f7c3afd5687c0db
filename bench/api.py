"""What the hardened API costs per request, against a same-run baseline.

The baseline is `GET /plans`: public, one indexed query. Against it, the same server answers
`GET /tenants/{id}` as a tenant owner (verify the EdDSA token, load the user and role, take one
request from the tenant's rate limit in Postgres, load the tenant), the same with an API key
(a hash lookup instead of the signature), and `PATCH /tenants/{id}` with and without an
Idempotency-Key (claiming and storing the response: two more round trips). Sequential requests
over one keep-alive connection; latencies in milliseconds.
Target: an authenticated read's p95 at most 4x the baseline's.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client, config

from localplatform import stack
from tenantry_core import resources

RESULTS = Path(__file__).resolve().parent / "results"
READ_P95_RATIO_TARGET = 4.0


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000, 2)

    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "n": len(ordered),
    }


def timed(call: Callable[[], httpx.Response], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return samples


def run(rounds: int = 500) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        platform = stack.Platform(Path(state))
        try:
            platform.start_infrastructure()
            platform.start_operator()
            platform.start_control_plane()
            env = platform.env()
            kube = config.new_client_from_config(config_file=str(platform.kubeconfig))
            tier = f"bench-{uuid.uuid4().hex[:6]}"
            client.CustomObjectsApi(kube).create_cluster_custom_object(
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
            with httpx.Client(base_url=env["API_URL"] + "/api/v1", timeout=30) as api:
                series = measure(api, env, tier, rounds)
        finally:
            platform.stop()
    base = series.pop("baseline")
    result: dict[str, Any] = {"benchmark": "control-plane API per request", "baseline": base}
    for name, stats in series.items():
        result[name] = {
            **stats,
            "ratio_median": round(stats["median_ms"] / base["median_ms"], 2),
            "ratio_p95": round(stats["p95_ms"] / base["p95_ms"], 2),
        }
    read = result["read_as_owner"]
    read["target_ratio_p95"] = READ_P95_RATIO_TARGET
    read["meets_target"] = read["ratio_p95"] <= READ_P95_RATIO_TARGET
    return result


def measure(
    api: httpx.Client, env: dict[str, str], tier: str, rounds: int
) -> dict[str, dict[str, float]]:
    deadline = time.monotonic() + 60
    while api.get("/tiers").status_code != 200 or tier not in {
        t["name"] for t in api.get("/tiers").json()
    }:
        if time.monotonic() > deadline:
            raise TimeoutError("tier catalog not loaded")
        time.sleep(0.2)
    company = f"Bench {uuid.uuid4().hex[:6]}"
    body = api.post(
        "/signup",
        json={
            "company": company,
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
    as_key = {"Authorization": f"Bearer {key}"}

    def patch(idempotent: bool) -> Callable[[], httpx.Response]:
        def call() -> httpx.Response:
            headers = {**owner, **({"Idempotency-Key": uuid.uuid4().hex} if idempotent else {})}
            return api.patch(f"/tenants/{tid}", headers=headers, json={"company": company})

        return call

    calls: dict[str, Callable[[], httpx.Response]] = {
        "baseline": lambda: api.get("/plans"),
        "read_as_owner": lambda: api.get(f"/tenants/{tid}", headers=owner),
        "read_with_api_key": lambda: api.get(f"/tenants/{tid}", headers=as_key),
        "write": patch(idempotent=False),
        "write_with_idempotency_key": patch(idempotent=True),
    }
    for call in calls.values():  # warm-up: imports, connection pools, plans
        timed(call, 20)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds // 50):  # interleaved, so drift hits every series alike
        for name, call in calls.items():
            samples[name] += timed(call, 50)
    return {name: summary(values) for name, values in samples.items()}


def main() -> None:
    result = run()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
