"""All Postgres I/O for tenants' data, in every placement.

`ensure_platform` prepares the shared pool database once per operator start. `ensure_tenant`
carries out a DatabasePlan: the tenant's login role, its data (pool rows, a bridge schema or a
silo database from the provisioner, with the app's migrations) and its routing row. Every
function is idempotent: the operator may die between any two statements and run them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from tenantry_core import routing
from tenantry_operator import app_schema, model, planning, provisioner, settings

OWNER_ROLE = routing.OWNER_ROLE
TENANT_GROUP = routing.TENANT_GROUP
APP_ROLE = routing.APP_ROLE
ROUTING_TABLE = routing.ROUTING_TABLE
KEY = routing.TENANT_COLUMN
DML = "SELECT, INSERT, UPDATE, DELETE"

Conn = psycopg.Connection[tuple[Any, ...]]


class DatabaseUnavailable(Exception):
    """A Postgres server could not be reached; the reconcile should be retried."""


@contextmanager
def connect(url: str) -> Iterator[Conn]:
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip()) from exc
    with conn:
        yield conn


def _ensure_role(conn: Conn, role: str, options: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(sql.SQL(f"{verb} ROLE {{}} {options}").format(sql.Identifier(role)))


def _ident(*names: str) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def ensure_server_roles(conn: Conn, cfg: settings.OperatorSettings) -> None:
    """The platform's roles on a server: table owner, tenant group, and the shared app role."""
    _ensure_role(conn, OWNER_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS")
    _ensure_role(conn, TENANT_GROUP, "NOLOGIN NOSUPERUSER NOBYPASSRLS")
    _ensure_role(conn, APP_ROLE, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(APP_ROLE), sql.Literal(cfg.app_db_password.get_secret_value())
        )
    )


def _prepare_schema(conn: Conn, schema: str, grantee: str | None) -> None:
    """A schema the owner role creates tables in, whose tables `grantee` may read and write."""
    conn.execute(
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
            sql.Identifier(schema), sql.Identifier(OWNER_ROLE)
        )
    )
    conn.execute(
        sql.SQL("GRANT CREATE, USAGE ON SCHEMA {} TO {}").format(
            sql.Identifier(schema), sql.Identifier(OWNER_ROLE)
        )
    )
    if grantee is None:
        return
    conn.execute(
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            sql.Identifier(schema), sql.Identifier(grantee)
        )
    )
    conn.execute(
        sql.SQL(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {{}} IN SCHEMA {{}} GRANT {DML} ON TABLES TO {{}}"
        ).format(sql.Identifier(OWNER_ROLE), sql.Identifier(schema), sql.Identifier(grantee))
    )


def _grant_tables(conn: Conn, schema: str, grantee: str) -> None:
    conn.execute(
        sql.SQL(f"GRANT {DML} ON ALL TABLES IN SCHEMA {{}} TO {{}}").format(
            sql.Identifier(schema), sql.Identifier(grantee)
        )
    )


def ensure_platform(cfg: settings.OperatorSettings) -> None:
    """Create the pool database, the platform roles and the app plane's pooled tables."""
    with connect(cfg.admin_url()) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (cfg.pool_database,)
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg.pool_database)))
        ensure_server_roles(conn, cfg)
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(TENANT_GROUP), sql.Identifier(APP_ROLE))
        )
    with connect(cfg.admin_url(cfg.pool_database)) as conn:
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(cfg.pool_database), sql.Identifier(TENANT_GROUP)
            )
        )
        _prepare_schema(conn, "tenantry", None)  # routing: the migration grants what is needed
        _prepare_schema(conn, "public", TENANT_GROUP)
    app_schema.upgrade(cfg, cfg.admin_url(cfg.pool_database), model.Isolation.POOL)
    with connect(cfg.admin_url(cfg.pool_database)) as conn:
        _grant_tables(conn, "public", TENANT_GROUP)


def _ensure_login_role(conn: Conn, plan: planning.DatabasePlan, password: str) -> None:
    login = "NOLOGIN" if plan.suspended else "LOGIN"
    _ensure_role(conn, plan.role, f"{login} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(plan.role), sql.Literal(password)
        )
    )
    # The shared app acts as the tenant (SET ROLE, or the pool's membership check).
    conn.execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(plan.role), sql.Identifier(APP_ROLE))
    )
    if plan.suspended:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            (plan.role,),
        )


def _upsert_route(
    cfg: settings.OperatorSettings, plan: planning.DatabasePlan, endpoint: planning.Endpoint
) -> None:
    silo = plan.placement is model.Isolation.SILO
    with connect(cfg.admin_url(cfg.pool_database)) as conn:
        conn.execute(
            f"""INSERT INTO {ROUTING_TABLE} ({KEY}, placement, tier, db_role, schema_name,
                                              db_host, db_port, db_name, suspended)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT ({KEY}) DO UPDATE SET
                    placement = EXCLUDED.placement, tier = EXCLUDED.tier,
                    db_role = EXCLUDED.db_role, schema_name = EXCLUDED.schema_name,
                    db_host = EXCLUDED.db_host, db_port = EXCLUDED.db_port,
                    db_name = EXCLUDED.db_name, suspended = EXCLUDED.suspended,
                    retained_at = NULL, updated_at = now()""",
            (
                plan.tenant_key,
                plan.placement.value,
                plan.tier,
                plan.role,
                plan.schema,
                endpoint.host if silo else None,
                endpoint.port if silo else None,
                endpoint.database if silo else None,
                plan.suspended,
            ),
        )


def ensure_tenant(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
    password: str,
    *,
    route: bool = True,
) -> planning.Endpoint:
    """The tenant's role and data in its placement, and (unless `route` is False: a migration's
    target) its routing row; returns where."""
    pool_url = cfg.admin_url(cfg.pool_database)
    if plan.placement is model.Isolation.SILO:
        assert plan.database is not None
        database = databases.create(plan.database)
        with connect(database.server.url("postgres")) as conn:
            ensure_server_roles(conn, cfg)
            _ensure_login_role(conn, plan, password)
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(plan.database)
                )
            )
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(plan.database), _ident(plan.role, APP_ROLE)
                )
            )
        with connect(database.admin_url) as conn:
            _prepare_schema(conn, "public", plan.role)
        app_schema.upgrade(cfg, database.admin_url, model.Isolation.SILO)
        with connect(database.admin_url) as conn:
            _grant_tables(conn, "public", plan.role)
        endpoint = planning.Endpoint(
            database.server.public_host, database.server.public_port, plan.database
        )
    else:
        with connect(pool_url) as conn:
            _ensure_login_role(conn, plan, password)
            if plan.placement is model.Isolation.POOL:
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(TENANT_GROUP), sql.Identifier(plan.role)
                    )
                )
            else:
                conn.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                        sql.Identifier(cfg.pool_database), sql.Identifier(plan.role)
                    )
                )
                conn.execute(
                    sql.SQL("ALTER ROLE {} SET search_path = {}").format(
                        sql.Identifier(plan.role), sql.Identifier(plan.schema)
                    )
                )
                _prepare_schema(conn, plan.schema, plan.role)
        if plan.placement is model.Isolation.BRIDGE:
            app_schema.upgrade(cfg, pool_url, model.Isolation.BRIDGE, plan.schema)
            with connect(pool_url) as conn:
                _grant_tables(conn, plan.schema, plan.role)
        endpoint = planning.Endpoint(cfg.public_host, cfg.public_port, cfg.pool_database)
    if route:
        _upsert_route(cfg, plan, endpoint)
    return endpoint


def check_login(plan: planning.DatabasePlan, endpoint: planning.Endpoint, password: str) -> None:
    """Connect with the tenant's own credentials: the database answers, the Secret is right."""
    url = planning.connection_url(plan, endpoint, password)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip()) from exc


def tenant_tables(conn: Conn, schema: str = "public", column: str = KEY) -> list[str]:
    """The app tables in `schema` that carry tenant rows (have a `column`, the tenant key)."""
    rows = conn.execute(
        """SELECT c.table_name FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.column_name = %s AND t.table_type = 'BASE TABLE'
              AND c.table_schema = %s ORDER BY c.table_name""",
        (column, schema),
    ).fetchall()
    return [str(r[0]) for r in rows]


def data_url(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
) -> str | None:
    """A superuser URL of the database holding the tenant's data, if it exists."""
    if plan.placement is not model.Isolation.SILO:
        return cfg.admin_url(cfg.pool_database)
    assert plan.database is not None
    found = databases.locate(plan.database)
    return found.admin_url if found else None


def retain_tenant(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
) -> None:
    """Keep the data, stop every login of the tenant's role and mark the routing row retained."""
    found = databases.locate(plan.database) if plan.database else None
    server_url = found.server.url("postgres") if found else cfg.admin_url(cfg.pool_database)
    with connect(server_url) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (plan.role,)).fetchone():
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(plan.role)))
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (plan.role,),
            )
    with connect(cfg.admin_url(cfg.pool_database)) as conn:
        conn.execute(
            f"UPDATE {ROUTING_TABLE} SET retained_at = coalesce(retained_at, now()), "
            f"updated_at = now() WHERE {KEY} = %s",
            (plan.tenant_key,),
        )


def delete_tenant(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
) -> None:
    """Delete the tenant's data, its routing row and its role."""
    pool_url = cfg.admin_url(cfg.pool_database)
    # DROP OWNED revokes in the database it runs in: the pool database, and a silo's server.
    servers = [pool_url]
    if plan.placement is model.Isolation.SILO:
        assert plan.database is not None
        found = databases.locate(plan.database)
        if found:
            servers.append(found.server.url("postgres"))
            databases.drop(plan.database)
    with connect(pool_url) as conn, conn.transaction():
        if plan.placement is model.Isolation.BRIDGE:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(plan.schema))
            )
        elif plan.placement is model.Isolation.POOL:
            for table in tenant_tables(conn):
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                        sql.Identifier("public", table), sql.Identifier(KEY)
                    ),
                    (plan.tenant_key,),
                )
        conn.execute(f"DELETE FROM {ROUTING_TABLE} WHERE {KEY} = %s", (plan.tenant_key,))
    for server_url in dict.fromkeys(servers):
        with connect(server_url) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (plan.role,),
            )
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (plan.role,)).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(plan.role)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(plan.role)))


def publish_tier_features(cfg: settings.OperatorSettings, tier: str, features: list[str]) -> None:
    """Record the features a Tier grants where the app enforces them."""
    with connect(cfg.admin_url(cfg.pool_database)) as conn, conn.transaction():
        conn.execute(f"DELETE FROM {routing.TIER_FEATURES_TABLE} WHERE tier = %s", (tier,))
        for feature in features:
            conn.execute(
                f"INSERT INTO {routing.TIER_FEATURES_TABLE} (tier, feature) VALUES (%s, %s)",
                (tier, feature),
            )


def forget_tier(cfg: settings.OperatorSettings, tier: str) -> None:
    with connect(cfg.admin_url(cfg.pool_database)) as conn:
        conn.execute(f"DELETE FROM {routing.TIER_FEATURES_TABLE} WHERE tier = %s", (tier,))
