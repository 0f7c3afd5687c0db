"""All Postgres I/O of the operator for the shared pool database.

`ensure_platform` prepares the pool once per operator start (database, roles, app migrations);
`ensure_tenant`, `retain_tenant` and `delete_tenant` carry out a PoolDatabasePlan. Every function
is idempotent: the operator may die between any two statements and run them again.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from tenantry_operator import planning, settings

OWNER_ROLE = "tenantry_owner"
TENANT_GROUP = "tenantry_tenant"
APP_ROLE = "tenantry_app"
ROUTING_TABLE = "tenantry.tenants"


class DatabaseUnavailable(Exception):
    """The Postgres server could not be reached; the reconcile should be retried."""


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip()) from exc


def _ensure_role(conn: psycopg.Connection[tuple[object, ...]], role: str, options: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(sql.SQL(f"{verb} ROLE {{}} {options}").format(sql.Identifier(role)))


def ensure_platform(cfg: settings.OperatorSettings) -> None:
    """Create the pool database, the platform roles and the app plane's tables."""
    from app_plane import migrate  # the app plane owns its schema; we only apply it

    with _connect(cfg.admin_url()) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (cfg.pool_database,)
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg.pool_database)))
        _ensure_role(conn, OWNER_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS")
        _ensure_role(conn, TENANT_GROUP, "NOLOGIN NOSUPERUSER NOBYPASSRLS")
        _ensure_role(conn, APP_ROLE, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(cfg.app_db_password.get_secret_value())
            )
        )
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(TENANT_GROUP), sql.Identifier(APP_ROLE))
        )
    with _connect(cfg.admin_url(cfg.pool_database)) as conn:
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(cfg.pool_database), sql.Identifier(TENANT_GROUP)
            )
        )
        conn.execute(
            sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(sql.Identifier(OWNER_ROLE))
        )
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS tenantry AUTHORIZATION {}").format(
                sql.Identifier(OWNER_ROLE)
            )
        )
    migrate.upgrade(cfg.admin_url(cfg.pool_database))


def ensure_tenant(
    cfg: settings.OperatorSettings, plan: planning.PoolDatabasePlan, password: str
) -> None:
    """The tenant's login role (member of the tenant group) and its routing row, active."""
    role = sql.Identifier(plan.role)
    with _connect(cfg.admin_url(cfg.pool_database)) as conn, conn.transaction():
        login = "NOLOGIN" if plan.suspended else "LOGIN"
        _ensure_role(conn, plan.role, f"{login} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(TENANT_GROUP), role))
        conn.execute(sql.SQL("GRANT {} TO {}").format(role, sql.Identifier(APP_ROLE)))
        conn.execute(
            f"""INSERT INTO {ROUTING_TABLE} (tenant_id, placement, tier, db_role, suspended)
                VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (tenant_id) DO UPDATE SET
                    placement = EXCLUDED.placement, tier = EXCLUDED.tier,
                    db_role = EXCLUDED.db_role, suspended = EXCLUDED.suspended,
                    retained_at = NULL, updated_at = now()""",
            (plan.tenant_key, plan.placement.value, plan.tier, plan.role, plan.suspended),
        )


def tenant_tables(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """Every app table that carries tenant rows (has a tenant_id column)."""
    rows = conn.execute(
        """SELECT c.table_schema || '.' || c.table_name
             FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
              AND c.table_schema NOT IN ('tenantry', 'pg_catalog', 'information_schema')
            ORDER BY c.table_name DESC"""
    ).fetchall()
    return [str(r[0]) for r in rows]


def retain_tenant(cfg: settings.OperatorSettings, plan: planning.PoolDatabasePlan) -> None:
    """Keep the rows, stop every login and mark the routing row retained."""
    with _connect(cfg.admin_url(cfg.pool_database)) as conn, conn.transaction():
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (plan.role,)).fetchone():
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(plan.role)))
        conn.execute(
            f"UPDATE {ROUTING_TABLE} SET retained_at = coalesce(retained_at, now()), "
            "updated_at = now() WHERE tenant_id = %s",
            (plan.tenant_key,),
        )


def delete_tenant(cfg: settings.OperatorSettings, plan: planning.PoolDatabasePlan) -> None:
    """Delete the tenant's rows, its routing row and its role."""
    with _connect(cfg.admin_url(cfg.pool_database)) as conn, conn.transaction():
        for table in tenant_tables(conn):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(
                    sql.Identifier(*table.split("."))
                ),
                (plan.tenant_key,),
            )
        conn.execute(f"DELETE FROM {ROUTING_TABLE} WHERE tenant_id = %s", (plan.tenant_key,))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(plan.role)))
