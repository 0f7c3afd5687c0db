"""Signups are rate limited per client address and overall: a flood gets 429 with Retry-After
and the RateLimit headers, creates nothing, and the budget comes back."""

from __future__ import annotations

from concurrent import futures
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration
PER_CLIENT = int(support.SIGNUP_LIMITS["SIGNUP_PER_CLIENT_PER_MINUTE"])
GLOBAL = int(support.SIGNUP_LIMITS["SIGNUP_GLOBAL_PER_MINUTE"])
FLOOD = 10  # signups sent at once


def attempt(api: httpx.Client, company: str, address: str) -> httpx.Response:
    """A signup from `address` (the local proxy's X-Forwarded-For, which uvicorn trusts)."""
    return api.post(
        "/signup",
        json={
            "company": company,
            "email": f"owner@{support.unique('x').lower()}.example.com",
            "password": support.PASSWORD,
            "tier": "free",
        },
        headers={"X-Forwarded-For": address},
    )


def tenants(db: psycopg.Connection[Any]) -> Any:
    return db.execute("SELECT count(*) FROM tenants").fetchone()


def test_one_client_is_limited_and_others_are_not(
    api: httpx.Client, control_db: psycopg.Connection[Any]
) -> None:
    taken = support.signup(api, support.unique("Taken"))["tenant"]["company"]
    before = tenants(control_db)
    # The burst is the limit; the budget refills while the flood runs, so a few more may pass.
    statuses = []
    for _ in range(2 * PER_CLIENT):
        statuses.append(attempt(api, taken, "203.0.113.7").status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429
    assert len(statuses) > PER_CLIENT
    assert set(statuses[:-1]) == {409}
    # New companies from the same client are refused too. A token refills each 60/PER_CLIENT
    # seconds, less than a signup takes on a loaded machine, so they arrive at once: a refilled
    # token may let one or two pass, and each that does creates its one tenant and no more.
    with futures.ThreadPoolExecutor(max_workers=FLOOD) as pool:
        answers = list(
            pool.map(lambda _: attempt(api, support.unique("Flood"), "203.0.113.7"), range(FLOOD))
        )
    created = sum(a.status_code == 201 for a in answers)
    assert {a.status_code for a in answers} <= {201, 429}, [a.text for a in answers]
    refused = next((a for a in answers if a.status_code == 429), answers[0])
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["title"] == "Too Many Requests"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Policy"].startswith('"signup"')
    assert tenants(control_db) == (before[0] + created,)
    assert attempt(api, taken, "203.0.113.8").status_code == 409  # another client goes on


def test_all_clients_together_are_limited_then_signups_resume(
    api: httpx.Client, control_db: psycopg.Connection[Any]
) -> None:
    taken = support.signup(api, support.unique("Crowded"))["tenant"]["company"]
    statuses = []
    for number in range(2 * GLOBAL):  # the budget refills while the flood runs
        response = attempt(api, taken, f"198.51.{number // 250}.{number % 250 + 1}")
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert set(statuses[:-1]) == {409}
    assert statuses[-1] == 429
    assert response.headers["RateLimit-Policy"].startswith('"signup-global"')
    assert int(response.headers["Retry-After"]) >= 1
    before = tenants(control_db)

    def resumed() -> bool:
        return attempt(api, support.unique("Later"), "192.0.2.1").status_code == 201

    eventually(resumed, timeout=30, what="signups admitted again")
    assert tenants(control_db) == (before[0] + 1,)
    control_db.execute("DELETE FROM rate_limits WHERE key = 'signup:*'")  # the next tests' budget
