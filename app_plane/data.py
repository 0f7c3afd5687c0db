"""Tenant-scoped data access: routing to the tenant's placement and its per-transaction context.

Every unit of work is one transaction that first runs `set_config('tenantry.tenant_key', key,
true)`: the setting dies with the transaction, so a pooled connection never carries a tenant
into the next request. The routing row in the pool says where the tenant's data lives:

- pool: the shared tables, filtered by row-level security;
- bridge: the tenant's schema, reached as the tenant's role (`SET LOCAL ROLE`);
- silo: the tenant's dedicated database, also as the tenant's role.

Pool and bridge tenants on a pool shard other than the home one have a routing row naming that
shard's database (db_host, db_port, db_name, like a silo's): the same, in that database.

A silo tenant's dedicated deployment (TENANTRY_TENANT_DATABASE_URL set) serves only its tenant,
from its own database, with the tenant's own credentials.

Each transaction first takes a shared advisory lock on the tenant in the home pool database. A
live migration takes it exclusively while it switches the tenant's placement, so requests wait,
then read the new route.

Everything a transaction sets dies with it (set_config(..., true), SET LOCAL, the xact lock), so
the app plane runs behind PgBouncer in transaction mode (README, Placement); no plain SET,
session advisory lock or LISTEN belongs here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from app_plane import settings
from tenantry_core import enums, routing, urls


class TenantUnavailable(Exception):
    """The tenant has no active placement (not provisioned yet, suspended or offboarded)."""


class WrongTenant(Exception):
    """A dedicated deployment was asked to serve another tenant."""


def _engine(url: str) -> sa.Engine:
    cfg = settings.get_settings()
    return sa.create_engine(
        urls.sqlalchemy_url(url),
        pool_size=cfg.TENANTRY_DB_POOL_SIZE,
        max_overflow=cfg.TENANTRY_DB_MAX_OVERFLOW,
        pool_pre_ping=True,
        connect_args=connect_args(prepared=cfg.TENANTRY_DB_PREPARED_STATEMENTS),
    )


def connect_args(*, prepared: bool) -> dict[str, Any]:
    """psycopg prepares a statement run 5 times on one connection; `prepare_threshold=None`
    never does (PgBouncer in transaction mode before 1.21)."""
    return {} if prepared else {"prepare_threshold": None}


@functools.cache
def pool_engine() -> sa.Engine:
    return _engine(settings.get_settings().pool_url())


@functools.cache
def database_engine(host: str, port: int, database: str) -> sa.Engine:
    """The shared app role's connection to another database (a silo, or a pool shard other
    than the home one), with the same role and password."""
    parts = urlsplit(settings.get_settings().pool_url())
    netloc = f"{parts.username}:{parts.password}@{host}:{port}"
    return _engine(parts._replace(netloc=netloc, path=f"/{database}").geturl())


@functools.cache
def dedicated_engine() -> sa.Engine:
    url = settings.get_settings().TENANTRY_TENANT_DATABASE_URL
    assert url is not None
    return _engine(url)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _fence(conn: sa.Connection, tenant_key: str) -> None:
    """Wait while a live migration switches the tenant (it holds the lock exclusively)."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock_shared(:c, hashtext(:key))"),
        {"c": routing.FENCE_CLASS, "key": tenant_key},
    )


def _enter(
    conn: sa.Connection,
    tenant_key: str,
    *,
    role: str | None = None,
    schema: str | None = None,
    keyed: bool = False,
) -> None:
    """Act as `role` on `schema` with the tenant setting (already there when `keyed`)."""
    if role:
        conn.execute(sa.text(f"SET LOCAL ROLE {_quote(role)}"))
    if schema:
        conn.execute(sa.text("SELECT set_config('search_path', :s, true)"), {"s": schema})
    if not keyed:
        conn.execute(
            sa.text("SELECT set_config(:setting, :key, true)"),
            {"setting": routing.TENANT_SETTING, "key": tenant_key},
        )


@contextmanager
def tenant_transaction(tenant_key: str) -> Iterator[sa.Connection]:
    """A transaction on the tenant's current placement with the tenant context set."""
    cfg = settings.get_settings()
    if cfg.TENANTRY_TENANT_DATABASE_URL:
        if tenant_key != cfg.TENANTRY_TENANT_KEY:
            raise WrongTenant(f"this deployment serves tenant {cfg.TENANTRY_TENANT_KEY!r}")
        with dedicated_engine().begin() as conn:
            _fence(conn, tenant_key)
            _enter(conn, tenant_key)
            yield conn
        return
    with pool_engine().begin() as conn:
        _fence(conn, tenant_key)  # before reading the route: a switch is seen whole or not at all
        # The tenant setting comes with the route (one round trip); where the route leads
        # elsewhere, it dies with this transaction unused.
        route = conn.execute(
            sa.text(
                "SELECT placement, suspended, retained_at IS NOT NULL AS retained, db_role, "
                "schema_name, db_host, db_port, db_name, set_config(:setting, :key, true) "
                f"FROM {routing.ROUTING_TABLE} WHERE {routing.TENANT_COLUMN} = :key"
            ),
            {"key": tenant_key, "setting": routing.TENANT_SETTING},
        ).one_or_none()
        if route is None or route.retained:
            raise TenantUnavailable(f"tenant {tenant_key!r} is not provisioned")
        if route.suspended:
            raise TenantUnavailable(f"tenant {tenant_key!r} is suspended")
        pooled = route.placement != enums.Isolation.SILO
        bridge = route.placement == enums.Isolation.BRIDGE
        role = route.db_role if route.placement != enums.Isolation.POOL else None
        if pooled and route.db_host is None:  # the home pool database: this connection
            schema = route.schema_name if bridge else None
            _enter(conn, tenant_key, role=role, schema=schema, keyed=True)
            yield conn
            return
        # A silo, or a pool shard other than the home one; the fence stays held here.
        with database_engine(route.db_host, route.db_port, route.db_name).begin() as other:
            _enter(other, tenant_key, role=role, schema=route.schema_name if bridge else None)
            yield other
