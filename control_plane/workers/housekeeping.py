"""Periodic clean-up of records that expire: stored idempotent responses past their TTL, the
rate-limit state of idle keys (a past TAT means a full budget, the same as no row), failed
sign-ins of clients quiet for an hour, and refresh
tokens that expired or whose family was revoked a day ago. Used refresh tokens stay until they
expire, so a replay is still recognised as reuse. Run by workers.sweeper once a minute.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CursorResult, delete, or_
from sqlalchemy.orm import Session

from control_plane import models

KEEP_REVOKED = dt.timedelta(days=1)


def purge(session: Session, now: dt.datetime, *, idempotency_ttl: dt.timedelta) -> dict[str, int]:
    """Delete what has expired; returns how many rows of each kind."""
    statements = {
        "idempotency_keys": delete(models.IdempotencyRecord).where(
            models.IdempotencyRecord.created_at < now - idempotency_ttl
        ),
        "rate_limits": delete(models.RateLimit).where(models.RateLimit.tat < now),
        "sign_in_failures": delete(models.SignInFailure).where(
            models.SignInFailure.last_failed_at < now - models.SignInFailure.FORGET_AFTER,
            models.SignInFailure.blocked_until < now,
        ),
        "refresh_tokens": delete(models.RefreshToken).where(
            or_(
                models.RefreshToken.expires_at < now,
                models.RefreshToken.revoked_at < now - KEEP_REVOKED,
            )
        ),
    }
    counts = {}
    for name, statement in statements.items():
        result = session.execute(statement)
        counts[name] = result.rowcount if isinstance(result, CursorResult) else 0
    return counts
