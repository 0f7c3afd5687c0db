"""Signup throughput: many self-service signups at once, accepted a second and to Ready.

`CLIENTS` clients post `POST /signup` concurrently (a new company, owner and free tenant each)
for 20 s (4 signups in quick mode). Reported: the signups accepted a second, the failed ones,
and the time from the first signup until every tenant they created is Ready (the outbox hands
each to the operator). Run by `bench.suite` on a platform whose signup limits allow the burst
(`bench.suite.SIGNUP_LIMITS`). Target: at least 50 signups a second accepted, none failed.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from bench import cluster, report
from localplatform import stack
from tenantry_core import resources

CLIENTS = 16


def run(platform: stack.Platform, *, quick: bool) -> list[report.Figure]:
    count, seconds = (4, 60.0) if quick else (1000, 20.0)
    base_url = platform.env()["API_URL"] + "/api/v1"
    started = time.monotonic()
    slugs, failures = asyncio.run(_signups(base_url, count, started + seconds))
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
            f"Signups accepted, {CLIENTS} concurrent clients ({count} signups)",
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
