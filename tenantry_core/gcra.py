"""Request limits (GCRA) whose state lives in Postgres, shared by every replica of a service.

Each key has a theoretical arrival time (TAT). A request of a tenant allowed `limit` requests a
minute advances it by 60/limit seconds and is admitted while the TAT stays within a minute of
now, so a tenant may burst up to its limit and then goes at its rate. One upsert per request,
in a transaction its caller commits whatever the request then does (with the principal's
lookup, on the same connection). Used by the control plane (its table
`rate_limits`) and the app plane (`tenantry.rate_limits` in the pool database).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Connection, text

WINDOW_SECONDS = 60.0

_TAKE = """
    INSERT INTO {table} AS r (key, tat)
    VALUES (:key, now() + make_interval(secs => :step))
    ON CONFLICT (key) DO UPDATE
        SET tat = greatest(r.tat, now()) + make_interval(secs => :step)
        WHERE greatest(r.tat, now()) + make_interval(secs => :step)
              <= now() + make_interval(secs => :window)
    RETURNING extract(epoch FROM tat - now())::float8
    """
_AHEAD = "SELECT extract(epoch FROM tat - now())::float8 FROM {table} WHERE key = :key"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the full quota is back
    retry_after: int  # seconds until the next request is admitted (0 when allowed)
    policy: str = "tenant"  # the name the RateLimit headers give the budget

    def headers(self) -> dict[str, str]:
        """RateLimit headers (IETF httpapi draft, and the widely used older names)."""
        headers = {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit};w={int(WINDOW_SECONDS)}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset}',
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def decide(ahead: float, limit: int, *, allowed: bool, policy: str = "tenant") -> Decision:
    """The decision for a TAT `ahead` seconds in the future (pure)."""
    step = WINDOW_SECONDS / limit
    ahead = max(ahead, 0.0)
    remaining = max(0, math.floor((WINDOW_SECONDS - ahead) / step + 1e-9))
    retry = 0 if allowed else max(1, math.ceil(ahead + step - WINDOW_SECONDS))
    return Decision(allowed, limit, remaining, math.ceil(ahead), retry, policy)


def take(
    conn: Connection, key: str, limit: int, policy: str = "tenant", *, table: str = "rate_limits"
) -> Decision:
    """Count one request against `key`, allowed `limit` a minute; the caller commits. `table`
    (key text primary key, tat timestamptz) holds the state: a trusted constant, never input."""
    step = WINDOW_SECONDS / limit
    params = {"key": key, "step": step, "window": WINDOW_SECONDS}
    ahead = conn.execute(text(_TAKE.format(table=table)), params).scalar()
    allowed = ahead is not None
    if ahead is None:
        ahead = conn.execute(text(_AHEAD.format(table=table)), {"key": key}).scalar() or 0.0
    return decide(float(ahead), limit, allowed=allowed, policy=policy)
