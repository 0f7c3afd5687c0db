"""The pool database as the app's non-privileged role (APP_DATABASE_URL): the control plane
reads the usage the app plane meters (`tenantry.usage`) and the servers the operator keeps
(`tenantry.servers`: moves and rebalancing, services.placement), and publishes each tenant's
principals (`tenantry.principals`: its users and API keys with the `data:*` permissions they
hold now), which the app plane checks on every request, and the feature flags, overrides and
rings (`tenantry_core.flags`), which it evaluates. Used by services.usage, services.principals,
services.flags, services.placement and workers.usage_reporter.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from control_plane.core import config
from tenantry_core import flags, routing, urls


class UsageUnavailable(Exception):
    """No usage database is configured or it cannot be reached."""


class ServersUnavailable(Exception):
    """The servers catalog (`tenantry.servers`) is not configured, not there or not reachable."""


class PrincipalsUnavailable(Exception):
    """The pool database did not take a tenant's principals (the change is not committed)."""


class FlagsUnavailable(Exception):
    """The pool database did not take the flags (the change is not committed)."""


@dataclass(frozen=True)
class Principal:
    """A user or an API key of a tenant, as the app plane checks it."""

    id: uuid.UUID
    kind: str  # "user" | "api_key"
    permissions: frozenset[str]
    key_hash: str | None = None
    expires_at: dt.datetime | None = None


SERVERS_TABLE = "tenantry.servers"  # the operator keeps it (the placement contract)


@dataclass(frozen=True)
class Server:
    """A database server (silo) or pool shard (pool) tenants may be placed on, with how many
    tenants and tenant rows it holds (refreshed by the operator about once a minute)."""

    name: str
    kind: str  # "pool" | "silo"
    host: str
    port: int
    database: str | None
    tenants: int
    rows: int
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class TenantLoad:
    """A tenant's metered load: its stored rows at the last flush, and its API calls over the
    days asked for."""

    tenant_key: str
    rows: int
    requests: int


@functools.cache
def _engine(url: str) -> sa.Engine:
    return sa.create_engine(urls.sqlalchemy_url(url), pool_size=2, pool_pre_ping=True)


def _url() -> str | None:
    return config.get_settings().APP_DATABASE_URL


def daily_usage(tenant_key: str, since: dt.date) -> list[tuple[dt.date, int, int]]:
    """(day, API calls, stored rows) the app plane metered for the tenant since `since`."""
    url = _url()
    if not url:
        raise UsageUnavailable("APP_DATABASE_URL is not configured")
    try:
        with _engine(url).connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT day, api_calls, stored_rows FROM {routing.USAGE_TABLE} "
                    f"WHERE {routing.TENANT_COLUMN} = :t AND day >= :s ORDER BY day"
                ),
                {"t": tenant_key, "s": since},
            ).all()
    except sa.exc.OperationalError as exc:
        raise UsageUnavailable(str(exc).splitlines()[0]) from exc
    return [(row.day, int(row.api_calls), int(row.stored_rows)) for row in rows]


def servers() -> list[Server]:
    """Every server in the catalog, by kind and name."""
    url = _url()
    if not url:
        raise ServersUnavailable("APP_DATABASE_URL is not configured")
    try:
        with _engine(url).connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT name, kind, host, port, database, tenants, rows, updated_at "
                    f"FROM {SERVERS_TABLE} ORDER BY kind, name"
                )
            ).all()
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        raise ServersUnavailable(str(exc).splitlines()[0]) from exc
    return [
        Server(
            name=str(r.name),
            kind=str(r.kind),
            host=str(r.host),
            port=int(r.port),
            database=r.database,
            tenants=int(r.tenants or 0),
            rows=int(r.rows or 0),
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def tenant_loads(since: dt.date) -> dict[str, TenantLoad]:
    """Each metered tenant's load: its latest stored rows and its API calls since `since`."""
    url = _url()
    if not url:
        raise UsageUnavailable("APP_DATABASE_URL is not configured")
    key = routing.TENANT_COLUMN
    try:
        with _engine(url).connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT {key} AS tenant_key, "
                    "(array_agg(stored_rows ORDER BY day DESC))[1] AS rows, "
                    "sum(api_calls) FILTER (WHERE day >= :s) AS requests "
                    f"FROM {routing.USAGE_TABLE} GROUP BY {key}"
                ),
                {"s": since},
            ).all()
    except sa.exc.OperationalError as exc:
        raise UsageUnavailable(str(exc).splitlines()[0]) from exc
    return {
        str(r.tenant_key): TenantLoad(str(r.tenant_key), int(r.rows or 0), int(r.requests or 0))
        for r in rows
    }


def publish(
    *, tenant_id: uuid.UUID, tenant_key: str | None, principals: Sequence[Principal]
) -> None:
    """Replace the tenant's principals with `principals`, in one transaction. A `tenant_key`
    (None: the tenant has no live name any more) also clears rows a former holder of that name
    left behind, so a reused name never inherits anyone. No-op without APP_DATABASE_URL."""
    url = _url()
    if not url:
        return
    table = routing.PRINCIPALS_TABLE
    try:
        with _engine(url).begin() as conn:
            conn.execute(
                sa.text(f"DELETE FROM {table} WHERE tenant_id = :id OR tenant_key = :key"),
                {"id": tenant_id, "key": tenant_key},
            )
            if tenant_key and principals:
                conn.execute(
                    sa.text(
                        f"INSERT INTO {table} (id, tenant_id, tenant_key, kind, key_hash, "
                        "permissions, expires_at) VALUES (:id, :tenant_id, :tenant_key, :kind, "
                        ":key_hash, :permissions, :expires_at)"
                    ),
                    [
                        {
                            "id": p.id,
                            "tenant_id": tenant_id,
                            "tenant_key": tenant_key,
                            "kind": p.kind,
                            "key_hash": p.key_hash,
                            "permissions": sorted(p.permissions),
                            "expires_at": p.expires_at,
                        }
                        for p in principals
                    ],
                )
    except sa.exc.OperationalError as exc:
        raise PrincipalsUnavailable(str(exc).splitlines()[0]) from exc


def publish_flags(
    *,
    flag_list: Sequence[flags.Flag],
    overrides: Sequence[tuple[uuid.UUID, str, bool]],
    rings: Sequence[tuple[uuid.UUID, str]],
) -> None:
    """Replace the pool's flags, overrides (tenant, feature, granted) and rings (tenant, ring)
    with these and bump their version, in one transaction. No-op without APP_DATABASE_URL."""
    url = _url()
    if not url:
        return
    try:
        with _engine(url).begin() as conn:
            version = conn.execute(
                sa.text(f"SELECT version FROM {flags.STATE_TABLE} FOR UPDATE")
            ).scalar_one()
            for table in (flags.FLAGS_TABLE, flags.OVERRIDES_TABLE, flags.RINGS_TABLE):
                conn.execute(sa.text(f"DELETE FROM {table}"))
            _insert(
                conn,
                f"INSERT INTO {flags.FLAGS_TABLE} (key, enabled, tenants, ring, percentage) "
                "VALUES (:key, :enabled, :tenants, :ring, :percentage)",
                [
                    {
                        "key": f.key,
                        "enabled": f.enabled,
                        "tenants": sorted(f.tenants),
                        "ring": f.ring.value if f.ring else None,
                        "percentage": f.percentage,
                    }
                    for f in flag_list
                ],
            )
            _insert(
                conn,
                f"INSERT INTO {flags.OVERRIDES_TABLE} (tenant_id, feature, enabled) "
                "VALUES (:t, :f, :e)",
                [{"t": t, "f": f, "e": e} for t, f, e in overrides],
            )
            _insert(
                conn,
                f"INSERT INTO {flags.RINGS_TABLE} (tenant_id, ring) VALUES (:t, :r)",
                [{"t": t, "r": r} for t, r in rings],
            )
            conn.execute(
                sa.text(f"UPDATE {flags.STATE_TABLE} SET version = :v"), {"v": version + 1}
            )
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        raise FlagsUnavailable(str(exc).splitlines()[0]) from exc


def _insert(conn: sa.Connection, statement: str, rows: list[dict[str, object]]) -> None:
    if rows:
        conn.execute(sa.text(statement), rows)
