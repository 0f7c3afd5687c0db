"""Tenant-scoped data access: routing to the tenant's placement and its per-transaction context.

Every unit of work is one transaction that first runs `set_config('tenantry.tenant_id', key,
true)`: the setting dies with the transaction, so a pooled connection never carries a tenant
into the next request. Row-level security in the database does the filtering.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from app_plane import settings


class TenantUnavailable(Exception):
    """The tenant has no active placement (not provisioned yet, suspended or offboarded)."""


@functools.cache
def pool_engine() -> sa.Engine:
    url = settings.get_settings().TENANTRY_APP_DATABASE_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


@contextmanager
def tenant_transaction(tenant_key: str) -> Iterator[sa.Connection]:
    """A transaction on the tenant's current placement with the tenant context set."""
    with pool_engine().begin() as conn:
        route = conn.execute(
            sa.text(
                "SELECT placement, suspended, retained_at IS NOT NULL AS retained "
                "FROM tenantry.tenants WHERE tenant_id = :key"
            ),
            {"key": tenant_key},
        ).one_or_none()
        if route is None or route.retained:
            raise TenantUnavailable(f"tenant {tenant_key!r} is not provisioned")
        if route.suspended:
            raise TenantUnavailable(f"tenant {tenant_key!r} is suspended")
        conn.execute(
            sa.text("SELECT set_config('tenantry.tenant_id', :key, true)"), {"key": tenant_key}
        )
        yield conn
