"""Signup throughput: many self-service signups at once, accepted a second and to Ready.

`CLIENTS` clients post `POST /signup` concurrently (a new company, owner and free tenant each)
for 20 s to a control-plane replica with production settings (`bench.api.replica`: several
uvicorn workers); in quick mode 4 signups to the platform's own control plane. Reported: the
signups accepted a second, the failed ones, and the time from the first signup until every
tenant they created is Ready (the operator provisions each). Run by `bench.suite` on a platform
whose signup limits allow the burst (`bench.suite.SIGNUP_LIMITS`). Target: at least 50 signups
a second accepted, none failed.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from bench import api, cluster, report
from localplatform import stack
from tenantry_core import resources

CLIENTS = 16


def run(platform: stack.Platform, *, quick: bool) -> list[report.Figure]:
    if quick:  # the platform's own control plane: starting a replica takes longer than this
        return _run(platform, platform.env()["API_URL"], count=4, seconds=60.0, workers=1)
    with api.replica(platform) as base_url:
        return _run(platform, base_url, count=1000, seconds=20.0, workers=api.WORKERS)


def _run(
    platform: stack.Platform, base_url: str, *, count: int, seconds: float, workers: int
) -> list[report.Figure]:
    started = time.monotonic()
    slugs, failures = asyncio.run(_signups(base_url + "/api/v1", count, started + seconds))
    accepted_s = time.monotonic() - started
    count = len(slugs) + failures
    custom = cluster.custom_api(platform)

    def all_ready() -> bool:
        listed = custom.list_cluster_custom_object(
            resources.GROUP, resources.VERSION, resources.TENANT_PLURAL
        )["items"]
        ready = {t["metadata"]["name"] for t in listed if cluster.is_ready(t)}
        return set(slugs) <= ready

    cluster.until(all_ready, timeout=1200, interval=0.5)
    to_ready = time.monotonic() - started
    return [
        report.figure(
            f"Signups accepted, {CLIENTS} concurrent clients, {workers} uvicorn worker(s) "
            f"({count} signups)",
            len(slugs) / accepted_s,
            "signups/s",
            at_least=50,
        ),
        report.figure("Signups failed", failures, "", at_most=0),
        report.figure(f"Signups to all {count} tenants Ready", to_ready, "s"),
    ]


async def _signups(base_url: str, count: int, deadline: float) -> tuple[list[str], int]:
    """Post up to `count` signups, `CLIENTS` at a time, none after `deadline` (monotonic): the
    tenants' slugs, and how many failed."""
    slugs: list[str] = []
    failures = 0
    queue = list(range(count))
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

        async def one_client() -> None:
            nonlocal failures
            while queue and time.monotonic() < deadline:
                queue.pop()
                tag = uuid.uuid4().hex[:10]
                response = await http.post(
                    "/signup",
                    json={
                        "company": f"Bench signup {tag}",
                        "email": f"owner@{tag}.example.com",
                        "password": "correct horse battery staple",
                        "tier": "free",
                    },
                )
                if response.status_code == 201:
                    slugs.append(response.json()["tenant"]["slug"])
                else:
                    failures += 1

        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    return slugs, failures
