"""Sign-in throttling per client address: an exponential delay after repeated failures.

A client's first `LOGIN_FREE_FAILURES` failed sign-ins cost nothing; each further one makes it
wait twice as long as the last (1 s, 2 s, 4 s… at most `LOGIN_MAX_DELAY_SECONDS`), answered
with 429 and `Retry-After` while it waits. A successful sign-in from the client, or an hour
without a failure, starts it over. Only the client is slowed down: the account stays open to
its owner elsewhere. State lives in Postgres (`sign_in_failures`), shared by every replica.
Used by api.routes.auth; `delay` is pure.
"""

from __future__ import annotations

import math

from sqlalchemy import Connection, text

from control_plane import models
from tenantry_core import problems

_WAITING = text(
    "SELECT extract(epoch FROM blocked_until - now())::float8 FROM sign_in_failures"
    " WHERE client = :client"
)
_FAIL = text(
    """
    INSERT INTO sign_in_failures AS f (client, failures, last_failed_at, blocked_until)
    VALUES (:client, 1, now(), now())
    ON CONFLICT (client) DO UPDATE SET
        failures = CASE WHEN f.last_failed_at < now() - make_interval(secs => :forget)
                        THEN 1 ELSE f.failures + 1 END,
        last_failed_at = now()
    RETURNING failures
    """
)
_BLOCK = text(
    "UPDATE sign_in_failures SET blocked_until = now() + make_interval(secs => :delay)"
    " WHERE client = :client"
)
_FORGIVE = text("DELETE FROM sign_in_failures WHERE client = :client")


def delay(failures: int, *, free: int, cap: float) -> float:
    """Seconds a client waits after its `failures`-th failure in a row (pure)."""
    if failures < free:
        return 0.0
    return float(min(cap, 2 ** min(failures - free, 62)))


def refuse_if_waiting(conn: Connection, client: str) -> None:
    """A 429 problem (with Retry-After) while the client must wait; commits on `conn`."""
    ahead = conn.execute(_WAITING, {"client": client}).scalar()
    conn.commit()
    if ahead is not None and ahead > 0:
        raise problems.Problem(
            429,
            "Too Many Requests",
            "too many failed sign-ins from this address; wait and retry",
            headers={"Retry-After": str(max(1, math.ceil(ahead)))},
        )


def failed(conn: Connection, client: str, *, free: int, cap: float) -> None:
    """Count a failed sign-in of the client, and make it wait if it is past its free ones."""
    forget = models.SignInFailure.FORGET_AFTER.total_seconds()
    failures = conn.execute(_FAIL, {"client": client, "forget": forget}).scalar_one()
    wait = delay(failures, free=free, cap=cap)
    if wait > 0:
        conn.execute(_BLOCK, {"client": client, "delay": wait})
    conn.commit()


def succeeded(conn: Connection, client: str) -> None:
    """A successful sign-in starts the client's count over."""
    conn.execute(_FORGIVE, {"client": client})
    conn.commit()
