"""Retained data, bound to the uid of the Tenant it belonged to: moved out of its name's way
when that Tenant is deleted with deletionPolicy Retain, and moved back when a new Tenant adopts
it (spec.adoptRetainedFrom).

Retaining re-keys the rows to `model.retained_name(uid)` and gives the bridge schema or the silo
database that name too, then drops the tenant's role (its login and grants): a new Tenant of the
same name finds nothing and starts empty. Adopting re-keys the rows to the adopter's key and
moves the schema or database back under its names; `databases.ensure_tenant` then grants them to
the adopter's role. Used by the reconcile steps. Each function is idempotent: every move is
one transaction, or ordered so that a repeat finds where it got to.
"""

from __future__ import annotations

from psycopg import sql

from tenantry_core import routing
from tenantry_operator import grants, model, planning, postgres, provisioner, routes, settings


class AdoptionRefused(Exception):
    """The retained data cannot be adopted by this Tenant; the message says why."""


def _rekey(conn: postgres.Conn, schema: str, old: str, new: str) -> None:
    """Change the tenant key of every row in `schema` from `old` to `new` (one transaction)."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")  # composite keys, any order
        for table in postgres.tenant_tables(conn, schema):
            conn.execute(
                sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(
                    sql.Identifier(schema, table),
                    sql.Identifier(routing.TENANT_COLUMN),
                    sql.Identifier(routing.TENANT_COLUMN),
                ),
                (new, old),
            )


def _has_rows(conn: postgres.Conn, schema: str, key: str) -> bool:
    for table in postgres.tenant_tables(conn, schema):
        if conn.execute(
            sql.SQL("SELECT 1 FROM {} WHERE {} = %s LIMIT 1").format(
                sql.Identifier(schema, table), sql.Identifier(routing.TENANT_COLUMN)
            ),
            (key,),
        ).fetchone():
            return True
    return False


def _schema_exists(conn: postgres.Conn, schema: str) -> bool:
    found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return found is not None


def _rename_database(server: provisioner.Server, old: str, new: str) -> None:
    """Rename a database, ending its sessions first (nobody may connect meanwhile)."""
    with postgres.connect(server.url("postgres")) as conn:
        old_id, new_id = sql.Identifier(old), sql.Identifier(new)
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(old_id))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (old,)
        )
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(old_id, new_id))


def _reopen(database: provisioner.Database) -> None:
    """Connections to the database are allowed (again, after a rename)."""
    with postgres.connect(database.server.url("postgres")) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                sql.Identifier(database.name)
            )
        )


def retain(
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
    uid: str,
) -> str:
    """Move the tenant's data under the uid-bound name, drop its role and mark its routing row
    retained; returns the database that now holds the data."""
    name = model.retained_name(uid)
    pool_url = cfg.admin_url(cfg.pool_database)
    shard = plan.shard
    servers = [pool_url, cfg.shard_url(shard)]
    for server_url in dict.fromkeys(servers):
        with postgres.connect(server_url) as conn:
            grants.stop_logins(conn, plan.role)
    database = cfg.shard_database(shard)
    pool_url = cfg.shard_url(shard)
    if plan.placement is model.Isolation.SILO:
        assert plan.database is not None
        if (found := dbs.locate(plan.database, plan.server)) is not None:
            _rename_database(found.server, plan.database, name)
        if (kept := dbs.locate(name)) is not None:
            _reopen(kept)
            with postgres.connect(kept.admin_url) as conn:
                _rekey(conn, "public", plan.tenant_key, name)
            servers.append(kept.server.url("postgres"))
            database = name
    else:
        with postgres.connect(pool_url) as conn:
            schema = plan.schema
            if plan.placement is model.Isolation.BRIDGE:
                with conn.transaction():
                    if _schema_exists(conn, plan.schema):
                        conn.execute(
                            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                                sql.Identifier(plan.schema), sql.Identifier(name)
                            )
                        )
                schema = name
            if _schema_exists(conn, schema):
                _rekey(conn, schema, plan.tenant_key, name)
    for server_url in dict.fromkeys(servers):
        grants.drop_role(server_url, plan.role)
    routes.mark_retained(cfg, plan.tenant_key)
    return database


def adopt(
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
    uid: str,
) -> bool:
    """Move the data retained from the Tenant `uid` to this tenant's names, in its placement;
    True if there was any to move. AdoptionRefused when it is in another placement or the
    tenant has data of its own there."""
    name = model.retained_name(uid)
    pool_url = cfg.shard_url(plan.shard)  # retained on the plan's shard
    kept = dbs.locate(name)
    for database in (kept, dbs.locate(plan.database) if plan.database else None):
        if database is not None:
            _reopen(database)  # a rename may have stopped short of it
    with postgres.connect(pool_url) as conn:
        found = {
            model.Isolation.SILO: kept is not None,
            model.Isolation.BRIDGE: _schema_exists(conn, name),
            model.Isolation.POOL: _has_rows(conn, "public", name),
        }
    where = [placement for placement, present in found.items() if present]
    if not where:
        return False
    if plan.placement not in where:
        raise AdoptionRefused(
            f"the data retained from Tenant {uid} is in the {where[0]} placement; "
            f"this Tenant's Tier places it in {plan.placement}"
        )
    if plan.placement is model.Isolation.SILO:
        assert kept is not None
        assert plan.database is not None
        if dbs.locate(plan.database) is not None:
            raise AdoptionRefused(f"Tenant {plan.tenant_key} already has a database of its own")
        with postgres.connect(kept.admin_url) as conn:
            _rekey(conn, "public", name, plan.tenant_key)
        _rename_database(kept.server, name, plan.database)
        _reopen(provisioner.Database(kept.server, plan.database))
        return True
    with postgres.connect(pool_url) as conn:
        if plan.placement is model.Isolation.POOL:
            _rekey(conn, "public", name, plan.tenant_key)
            return True
        with conn.transaction():
            if _schema_exists(conn, plan.schema):
                raise AdoptionRefused(f"Tenant {plan.tenant_key} already has a schema of its own")
            _rekey(conn, name, name, plan.tenant_key)
            conn.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(name), sql.Identifier(plan.schema)
                )
            )
    return True


def has_own_data(
    cfg: settings.OperatorSettings,
    dbs: provisioner.DatabaseProvisioner,
    plan: planning.DatabasePlan,
) -> bool:
    """Whether the tenant already has its data (or its role) in its placement."""
    if plan.placement is model.Isolation.SILO:
        assert plan.database is not None
        return dbs.locate(plan.database) is not None
    with postgres.connect(cfg.shard_url(plan.server)) as conn:
        if plan.placement is model.Isolation.BRIDGE:
            return _schema_exists(conn, plan.schema)
        return postgres.role_exists(conn, plan.role) or _has_rows(conn, "public", plan.tenant_key)
