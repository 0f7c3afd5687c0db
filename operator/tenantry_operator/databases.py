"""The tenants' data in Postgres, in every placement: provisioned, reached, deleted.

`ensure_platform` prepares the shared pool database once per operator start. `ensure_tenant`
carries out a DatabasePlan: the tenant's login role (`grants`) and its data (pool rows, a bridge
schema or a silo database from the provisioner, with the app's migrations). Used by the
reconcile steps and by `migration`. Every function is idempotent: the operator may die between
any two statements and run them again.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from tenantry_core import identity, routing, urls
from tenantry_operator import (
    app_schema,
    grants,
    migration_state,
    model,
    planning,
    postgres,
    provisioner,
    routes,
    settings,
)


def ensure_platform(cfg: settings.OperatorSettings) -> None:
    """Create every pool shard (the home pool database first), with the platform roles and the
    app plane's pooled tables."""
    for server in cfg.shard_names:
        ensure_shard(cfg, server)


def ensure_shard(cfg: settings.OperatorSettings, server: str) -> None:
    """One pool shard's database, roles, grants and the app's pooled tables (and catalog)."""
    url, name = cfg.shard_url(server), cfg.shard_database(server)
    with postgres.connect(urls.with_database(url, "postgres")) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        grants.ensure_server_roles(conn, cfg)
        grants.grant_role(conn, routing.TENANT_GROUP, routing.APP_ROLE)
    with postgres.connect(url) as conn:
        # Only the tenant group, the app and bridge roles (granted one by one) may connect.
        conn.execute(
            sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(name)
            )
        )
        grants.grant_connect(conn, name, routing.TENANT_GROUP, routing.APP_ROLE)
        grants.prepare_schema(conn, "tenantry", None)  # routing: the migration grants what's needed
        grants.prepare_schema(conn, "public", routing.TENANT_GROUP)
    app_schema.upgrade(cfg, url, model.Isolation.POOL)
    with postgres.connect(url) as conn:
        grants.grant_tables(conn, "public", routing.TENANT_GROUP)


def _ensure_silo(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
    password: str,
) -> planning.Endpoint:
    assert plan.database is not None
    database = databases.create(plan.database, plan.server)
    with postgres.connect(database.server.url("postgres")) as conn:
        grants.ensure_server_roles(conn, cfg)
        grants.ensure_login_role(conn, plan, password)
        grants.set_search_path(conn, plan.role, plan.database, None)
        conn.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(plan.database))
        )
        grants.grant_connect(conn, plan.database, plan.role, routing.APP_ROLE)
    with postgres.connect(database.admin_url) as conn:
        grants.prepare_schema(conn, "public", plan.role)
    app_schema.upgrade(cfg, database.admin_url, model.Isolation.SILO)
    with postgres.connect(database.admin_url) as conn:
        grants.grant_tables(conn, "public", plan.role)
    return planning.Endpoint(
        database.server.public_host,
        database.server.public_port,
        plan.database,
        database.server.name,
    )


def serve(cfg: settings.OperatorSettings, plan: planning.DatabasePlan) -> None:
    """The tenant's own logins to the pool database land where `plan` keeps its data: its
    bridge schema, or the pooled tables (a silo is a database of its own: nothing to do)."""
    if plan.placement is model.Isolation.SILO:
        return
    schema = plan.schema if plan.placement is model.Isolation.BRIDGE else None
    with postgres.connect(cfg.shard_url(plan.server)) as conn:
        grants.set_search_path(conn, plan.role, cfg.shard_database(plan.server), schema)


def _ensure_in_pool(
    cfg: settings.OperatorSettings, plan: planning.DatabasePlan, password: str, serving: bool
) -> planning.Endpoint:
    """Pool rows (the tenant group's row-level security) or a bridge schema of its own, in the
    plan's pool shard."""
    pool_url = cfg.shard_url(plan.server)
    with postgres.connect(pool_url) as conn:
        grants.ensure_login_role(conn, plan, password)
        if plan.placement is model.Isolation.POOL:
            grants.grant_role(conn, routing.TENANT_GROUP, plan.role)
        else:
            grants.grant_connect(conn, cfg.shard_database(plan.server), plan.role)
            grants.prepare_schema(conn, plan.schema, plan.role)
    if serving:
        serve(cfg, plan)
    if plan.placement is model.Isolation.BRIDGE:
        app_schema.upgrade(cfg, pool_url, model.Isolation.BRIDGE, plan.schema)
        with postgres.connect(pool_url) as conn:
            grants.grant_tables(conn, plan.schema, plan.role)
    host, port = cfg.shard_address(plan.server)
    return planning.Endpoint(host, port, cfg.shard_database(plan.server), plan.server)


def ensure_tenant(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
    password: str,
    *,
    serving: bool = True,
) -> planning.Endpoint:
    """The tenant's role and data in its placement (its routing row is `routes.upsert`'s, once
    the data is where it is served from); returns where. A live move's target is not `serving`
    until its switch: the tenant's own logins keep landing in the source (`serve`)."""
    if plan.placement is model.Isolation.SILO:
        return _ensure_silo(cfg, databases, plan, password)
    return _ensure_in_pool(cfg, plan, password, serving)


def check_login(plan: planning.DatabasePlan, endpoint: planning.Endpoint, password: str) -> None:
    """Connect with the tenant's own credentials: the database answers, the Secret is right."""
    url = planning.connection_url(plan, endpoint, password)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        raise postgres.DatabaseUnavailable(str(exc).strip()) from exc


def data_url(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
) -> str | None:
    """A superuser URL of the database holding the tenant's data, if it exists."""
    if plan.placement is not model.Isolation.SILO:
        return cfg.shard_url(plan.server)
    assert plan.database is not None
    found = databases.locate(plan.database, plan.server)
    return found.admin_url if found else None


def _delete_rows(conn: postgres.Conn, plan: planning.DatabasePlan) -> None:
    """Delete the tenant's rows from the shared tables of `plan.schema`."""
    for table in postgres.tenant_tables(conn, plan.schema):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                sql.Identifier(plan.schema, table), sql.Identifier(routing.TENANT_COLUMN)
            ),
            (plan.tenant_key,),
        )


def discard(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
) -> None:
    """Remove the tenant's data from a placement that is not (or no longer) routed to: a silo's
    database, its bridge schema, or its rows in the pool."""
    if plan.placement is model.Isolation.SILO:
        assert plan.database is not None
        databases.drop(plan.database, plan.server)
    elif plan.placement is model.Isolation.BRIDGE:
        drop_schema(cfg.shard_url(plan.server), plan.schema)
    else:
        with postgres.connect(cfg.shard_url(plan.server)) as conn, conn.transaction():
            _delete_rows(conn, plan)
            routes.forget_guard(conn, plan)


def ensure_staging(cfg: settings.OperatorSettings, url: str, schema: str) -> None:
    """A live move's staging schema in the database at `url`: the app's tables, which no
    tenant role may use."""
    with postgres.connect(url) as conn:
        grants.prepare_schema(conn, schema, None)
    app_schema.upgrade(cfg, url, model.Isolation.BRIDGE, schema)


def drop_schema(url: str, schema: str) -> None:
    """Drop a schema and everything in it (a bridge schema, or a move's staging schema)."""
    with postgres.connect(url) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def offboarding_copies(
    placement: model.Isolation, migration: migration_state.MigrationState | None, switched: bool
) -> tuple[model.Isolation, model.Isolation | None]:
    """Where an offboarded tenant's data is served from, and the other copy a live migration
    made (its target, before the switch) or kept (its source, after it): the one to discard.
    `switched`: the routing row points at the migration's target."""
    if migration is None or placement not in (migration.source, migration.target):
        return placement, None
    after = switched or migration.phase in (
        migration_state.Phase.CLEANING_UP,
        migration_state.Phase.COMPLETED,
    )
    return (migration.target, migration.source) if after else (migration.source, migration.target)


def disable_unplaced(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    tenant_key: identity.TenantKey,
) -> None:
    """For a tenant with no placement recorded (provisioning may have been cut short): stop
    its role's logins wherever it may exist, and mark its routing row retained."""
    servers = [urls.with_database(cfg.shard_url(name), "postgres") for name in cfg.shard_names]
    if (found := databases.locate(model.silo_database(tenant_key))) is not None:
        servers.append(found.server.url("postgres"))
    for server_url in dict.fromkeys(servers):
        with postgres.connect(server_url) as conn:
            grants.stop_logins(conn, model.role(tenant_key))
    routes.mark_retained(cfg, tenant_key)


def delete_tenant(
    cfg: settings.OperatorSettings,
    databases: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
) -> None:
    """Delete the tenant's data, its routing row and its role."""
    pool_url = cfg.admin_url(cfg.pool_database)
    # The role is dropped on each server it is on: the pool's, its shard's, and a silo's.
    servers = [pool_url]
    if plan.placement is model.Isolation.SILO:
        assert plan.database is not None
        found = databases.locate(plan.database, plan.server)
        if found:
            servers.append(found.server.url("postgres"))
            databases.drop(plan.database, plan.server)
    else:
        servers.append(cfg.shard_url(plan.server))
        with postgres.connect(cfg.shard_url(plan.server)) as conn, conn.transaction():
            if plan.placement is model.Isolation.BRIDGE:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(plan.schema))
                )
            else:
                _delete_rows(conn, plan)
            routes.forget_guard(conn, plan)
    with postgres.connect(pool_url) as conn, conn.transaction():
        routes.delete(conn, plan.tenant_key)
    for server_url in dict.fromkeys(servers):
        grants.drop_role(server_url, plan.role)
