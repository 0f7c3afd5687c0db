"""Postgres roles and privileges: the platform's roles, each tenant's login role, and what each
may read and write.

Used by `databases` and `retention` when they provision, retain or delete a tenant's data, and
by `migration` to freeze an old copy. Every function is idempotent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from psycopg import conninfo, sql

from tenantry_core import routing
from tenantry_operator import planning, postgres, settings

DML = "SELECT, INSERT, UPDATE, DELETE"
_TENANT_ROLE = "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
# The class of the advisory locks under which reconciles of many tenants change one shared
# catalog row in turn ("TER", apart from the fence's class).
_IN_TURN_CLASS = 0x544552


@contextlib.contextmanager
def _in_turn(conn: postgres.Conn, what: str) -> Iterator[None]:
    """One transaction under a lock named `what`: Postgres refuses two concurrent changes of one
    role or one database's ACL ("tuple concurrently updated"), which every tenant's reconcile
    on a server makes."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_IN_TURN_CLASS, what))
        yield


def _ensure_role(conn: postgres.Conn, role: str, options: str) -> None:
    verb = "ALTER" if postgres.role_exists(conn, role) else "CREATE"
    conn.execute(sql.SQL(f"{verb} ROLE {{}} {options}").format(sql.Identifier(role)))


def ensure_server_roles(conn: postgres.Conn, cfg: settings.OperatorSettings) -> None:
    """The platform's roles on a server: table owner, tenant group, and the shared app role.
    Every tenant's reconcile on the server runs this, so they take turns."""
    with _in_turn(conn, "server roles"):
        _ensure_role(conn, routing.OWNER_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS")
        _ensure_role(conn, routing.TENANT_GROUP, "NOLOGIN NOSUPERUSER NOBYPASSRLS")
        _ensure_role(conn, routing.APP_ROLE, f"LOGIN {_TENANT_ROLE}")
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(routing.APP_ROLE),
                sql.Literal(cfg.app_db_password.get_secret_value()),
            )
        )


def grant_role(conn: postgres.Conn, role: str, member: str) -> None:
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(member)))


def grant_connect(conn: postgres.Conn, database: str, *roles: str) -> None:
    with _in_turn(conn, f"database {database}"):
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.SQL(", ").join(sql.Identifier(r) for r in roles)
            )
        )


def prepare_schema(conn: postgres.Conn, schema: str, grantee: str | None) -> None:
    """A schema the owner role creates tables in, whose tables `grantee` may read and write."""
    owner = sql.Identifier(routing.OWNER_ROLE)
    conn.execute(
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
            sql.Identifier(schema), owner
        )
    )
    conn.execute(
        sql.SQL("GRANT CREATE, USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), owner)
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
        ).format(owner, sql.Identifier(schema), sql.Identifier(grantee))
    )


def grant_tables(conn: postgres.Conn, schema: str, grantee: str) -> None:
    conn.execute(
        sql.SQL(f"GRANT {DML} ON ALL TABLES IN SCHEMA {{}} TO {{}}").format(
            sql.Identifier(schema), sql.Identifier(grantee)
        )
    )


def ensure_login_role(conn: postgres.Conn, plan: planning.DatabasePlan, password: str) -> None:
    """The tenant's role with its password and the Tier's limits (connections at once, and the
    statement_timeout of its own logins); it may log in unless the tenant is suspended."""
    login = "NOLOGIN" if plan.suspended else "LOGIN"
    limit = int(plan.limits.connection_limit)
    _ensure_role(conn, plan.role, f"{login} {_TENANT_ROLE} CONNECTION LIMIT {limit}")
    conn.execute(
        sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
            sql.Identifier(plan.role), sql.Literal(plan.limits.statement_timeout)
        )
    )
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(plan.role), sql.Literal(password)
        )
    )
    # The shared app acts as the tenant (SET ROLE, or the pool's membership check).
    grant_role(conn, plan.role, routing.APP_ROLE)
    if plan.suspended:
        postgres.end_sessions(conn, plan.role)


def set_search_path(conn: postgres.Conn, role: str, database: str, schema: str | None) -> None:
    """The role's search_path in one database: its bridge schema, or the default (None). A
    setting for the whole role would follow it into a silo on the same server."""
    ident = sql.Identifier(role)
    conn.execute(sql.SQL("ALTER ROLE {} RESET search_path").format(ident))
    target = sql.SQL("ALTER ROLE {} IN DATABASE {}").format(ident, sql.Identifier(database))
    if schema is None:
        conn.execute(sql.SQL("{} RESET search_path").format(target))
    else:
        conn.execute(sql.SQL("{} SET search_path = {}").format(target, sql.Identifier(schema)))


def stop_logins(conn: postgres.Conn, role: str) -> None:
    """The role may no longer log in, and its open sessions end (if it exists)."""
    if postgres.role_exists(conn, role):
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
        postgres.end_sessions(conn, role)


def databases_holding(conn: postgres.Conn, role: str) -> list[str]:
    """The databases of this server in which the role holds privileges or owns objects (its
    entries in the shared dependency catalog; a database's own ACL counts as shared)."""
    rows = conn.execute(
        "SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
        "WHERE s.refclassid = 'pg_authid'::regclass "
        "AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = %s) ORDER BY 1",
        (role,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _release(conn: postgres.Conn, role: str) -> None:
    """What the role owns in the connected database becomes the caller's (no data is dropped
    with it), then every privilege it was granted there is revoked."""
    ident = sql.Identifier(role)
    conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(ident))
    conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))


def drop_role(server_url: str, role: str) -> None:
    """End the role's sessions, release what it holds in every database of the server at
    `server_url` (a migration's kept source may hold its grants in another database than the
    one it was provisioned in) and drop it. Idempotent: a repeat finds less, or no role."""
    with postgres.connect(server_url) as conn:
        postgres.end_sessions(conn, role)
        if not postgres.role_exists(conn, role):
            return
        here = conn.info.dbname
        for database in databases_holding(conn, role):
            if database != here:
                with postgres.connect(conninfo.make_conninfo(server_url, dbname=database)) as db:
                    _release(db, role)
        _release(conn, role)
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def freeze(url: str, schema: str, role: str) -> None:
    """The tenant's role may no longer change the old copy (a silo's dedicated pods)."""
    with postgres.connect(url) as conn:
        conn.execute(
            sql.SQL("REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} FROM {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
