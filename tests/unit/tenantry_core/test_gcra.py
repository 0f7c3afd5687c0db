"""Rate-limit arithmetic (GCRA) and the RateLimit headers, without a database."""

from __future__ import annotations

import pytest

from tenantry_core import gcra


@pytest.mark.parametrize("limit", [1, 5, 60, 1000])
def test_gcra_decisions(limit: int) -> None:
    step = 60 / limit
    first = gcra.decide(step, limit, allowed=True)
    assert (first.remaining, first.retry_after) == (limit - 1, 0)
    full = gcra.decide(60.0, limit, allowed=True)
    assert full.remaining == 0
    assert full.reset == 60
    refused = gcra.decide(60.0, limit, allowed=False)
    assert refused.retry_after == max(1, int(-(-step // 1)))
    headers = refused.headers()
    assert headers["Retry-After"] == str(refused.retry_after)
    assert headers["RateLimit-Policy"] == f'"tenant";q={limit};w=60'
    assert headers["RateLimit"] == '"tenant";r=0;t=60'
