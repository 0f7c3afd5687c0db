"""The operator's writes to the routing contract's tables (`tenantry_core.routing`) in the pool
database: each tenant's routing row, and the features each Tier grants. A pool shard other than
the home one keeps a guard row per tenant on it in its own `tenantry.tenants` (the same row,
with no db_host/db_port/db_name: the data is there): its row-level security
(`tenantry.tenant_for`) reads the shard's own catalog and answers only for such a row.

The app plane reads both to find a tenant's data and what it may use. Used by `databases` (a
tenant provisioned, retained or deleted), `migration` (the switch to the target) and
`reconcile` (Tier features).
"""

from __future__ import annotations

from psycopg import sql

from tenantry_core import identity, routing
from tenantry_operator import model, planning, postgres, settings

ROUTING_TABLE = routing.ROUTING_TABLE
KEY = routing.TENANT_COLUMN


_UPSERT = f"""INSERT INTO {ROUTING_TABLE} AS existing ({KEY}, placement, tier, db_role,
                              schema_name, db_host, db_port, db_name, suspended, server)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT ({KEY}) DO UPDATE SET
        placement = EXCLUDED.placement, tier = EXCLUDED.tier,
        db_role = EXCLUDED.db_role, schema_name = EXCLUDED.schema_name,
        db_host = EXCLUDED.db_host, db_port = EXCLUDED.db_port,
        db_name = EXCLUDED.db_name, suspended = EXCLUDED.suspended, server = EXCLUDED.server,
        retained_at = NULL, updated_at = now()
    WHERE existing.retained_at IS NOT NULL
       OR (existing.placement, existing.tier, existing.db_role, existing.schema_name,
           existing.db_host, existing.db_port, existing.db_name, existing.suspended,
           existing.server)
          IS DISTINCT FROM
          (EXCLUDED.placement, EXCLUDED.tier, EXCLUDED.db_role,
           EXCLUDED.schema_name, EXCLUDED.db_host, EXCLUDED.db_port,
           EXCLUDED.db_name, EXCLUDED.suspended, EXCLUDED.server)
    RETURNING xmax = 0"""


def _remote(plan: planning.DatabasePlan) -> bool:
    """Whether the data is in a database of its own rather than the home pool database: a
    silo, or a pool shard other than the home one (the row then names that database)."""
    return plan.placement is model.Isolation.SILO or plan.server != settings.HOME_SHARD


def _values(
    plan: planning.DatabasePlan, endpoint: planning.Endpoint, *, here: bool = False
) -> tuple[object, ...]:
    """The row's values; `here`: a guard row, in the database that holds the data."""
    remote = _remote(plan) and not here
    return (
        plan.tenant_key,
        plan.placement.value,
        plan.tier,
        plan.role,
        plan.schema,
        endpoint.host if remote else None,
        endpoint.port if remote else None,
        endpoint.database if remote else None,
        plan.suspended,
        endpoint.server or plan.server,
    )


def upsert(
    cfg: settings.OperatorSettings, plan: planning.DatabasePlan, endpoint: planning.Endpoint
) -> str | None:
    """Point the tenant's routing row at its data (and no longer mark it retained), and keep
    the guard row of a pool shard other than the home one (its row-level security reads the
    shard's own catalog); says whether the routing row was missing or pointed elsewhere, None
    when it was already right."""
    guard(cfg, plan, endpoint)
    with postgres.connect(cfg.admin_url(cfg.pool_database)) as conn:
        row = conn.execute(_UPSERT, _values(plan, endpoint)).fetchone()
    if row is None:
        return None
    return f"routing row {plan.tenant_key} ({'missing' if row[0] else 'changed'})"


def forget_guard(conn: postgres.Conn, plan: planning.DatabasePlan) -> None:
    """Delete the guard row of a tenant on a pool shard other than the home one (in the
    caller's transaction on that shard, with its data)."""
    if plan.server != settings.HOME_SHARD:
        delete(conn, plan.tenant_key)


def switch(plan: planning.DatabasePlan, endpoint: planning.Endpoint) -> sql.Composed:
    """The statement that points the tenant's routing row at `plan`'s placement: a live
    migration runs it while it holds the tenant's write fence."""
    remote = _remote(plan)
    return sql.SQL(
        "UPDATE {} SET placement = {}, schema_name = {}, db_host = {}, "
        "db_port = {}, db_name = {}, server = {}, updated_at = now() WHERE {} = {}"
    ).format(
        sql.SQL(ROUTING_TABLE),
        sql.Literal(plan.placement.value),
        sql.Literal(plan.schema),
        sql.Literal(endpoint.host if remote else None),
        sql.Literal(endpoint.port if remote else None),
        sql.Literal(endpoint.database if remote else None),
        sql.Literal(endpoint.server or plan.server),
        sql.Identifier(KEY),
        sql.Literal(plan.tenant_key),
    )


def routed_to(pool_url: str, tenant_key: identity.TenantKey, placement: model.Isolation) -> bool:
    """Whether the tenant's routing row points at `placement`."""
    with postgres.connect(pool_url) as conn:
        row = conn.execute(
            f"SELECT placement FROM {ROUTING_TABLE} WHERE {KEY} = %s", (tenant_key,)
        ).fetchone()
    return row is not None and row[0] == placement.value


def routed_server(pool_url: str, tenant_key: identity.TenantKey) -> str | None:
    """The server the tenant's routing row points at, if it has one."""
    with postgres.connect(pool_url) as conn:
        row = conn.execute(
            f"SELECT server FROM {ROUTING_TABLE} WHERE {KEY} = %s", (tenant_key,)
        ).fetchone()
    return None if row is None else str(row[0])


def guard(
    cfg: settings.OperatorSettings, plan: planning.DatabasePlan, endpoint: planning.Endpoint
) -> None:
    """The guard row of a pool tenant on a pool shard other than the home one, written before a
    live move switches to it (the routing row is the switch's)."""
    if plan.placement is not model.Isolation.SILO and plan.server != settings.HOME_SHARD:
        with postgres.connect(cfg.shard_url(plan.server)) as conn:
            conn.execute(_UPSERT, _values(plan, endpoint, here=True))


def unguard(cfg: settings.OperatorSettings, plan: planning.DatabasePlan) -> None:
    """Forget the guard row of a pool shard other than the home one: its row-level security
    serves the tenant's rows there no more."""
    if plan.server != settings.HOME_SHARD:
        with postgres.connect(cfg.shard_url(plan.server)) as conn:
            delete(conn, plan.tenant_key)


def mark_retained(cfg: settings.OperatorSettings, tenant_key: identity.TenantKey) -> None:
    """Mark the tenant's routing row retained (the app serves it no more), and its guard rows
    on every pool shard."""
    for server in cfg.shard_names:
        with postgres.connect(cfg.shard_url(server)) as conn:
            conn.execute(
                f"UPDATE {ROUTING_TABLE} SET retained_at = coalesce(retained_at, now()), "
                f"updated_at = now() WHERE {KEY} = %s",
                (tenant_key,),
            )


def delete(conn: postgres.Conn, tenant_key: identity.TenantKey) -> None:
    """Delete the tenant's routing row (in the caller's transaction, with its data)."""
    conn.execute(f"DELETE FROM {ROUTING_TABLE} WHERE {KEY} = %s", (tenant_key,))


def publish_tier(cfg: settings.OperatorSettings, tier: model.Tier) -> None:
    """Record the features a Tier grants and the app requests a minute it allows, where the
    app enforces them."""
    with postgres.connect(cfg.admin_url(cfg.pool_database)) as conn, conn.transaction():
        conn.execute(f"DELETE FROM {routing.TIER_FEATURES_TABLE} WHERE tier = %s", (tier.name,))
        for feature in tier.features:
            conn.execute(
                f"INSERT INTO {routing.TIER_FEATURES_TABLE} (tier, feature) VALUES (%s, %s)",
                (tier.name, feature),
            )
        conn.execute(
            f"INSERT INTO {routing.TIER_LIMITS_TABLE} (tier, requests_per_minute) "
            "VALUES (%s, %s) ON CONFLICT (tier) "
            "DO UPDATE SET requests_per_minute = EXCLUDED.requests_per_minute",
            (tier.name, tier.app_rate_limit_per_minute),
        )


def forget_tier(cfg: settings.OperatorSettings, tier: str) -> None:
    with postgres.connect(cfg.admin_url(cfg.pool_database)) as conn, conn.transaction():
        conn.execute(f"DELETE FROM {routing.TIER_FEATURES_TABLE} WHERE tier = %s", (tier,))
        conn.execute(f"DELETE FROM {routing.TIER_LIMITS_TABLE} WHERE tier = %s", (tier,))
