"""The servers tenants' data lives on (pool shards and silo servers), and each routing row's
server (pool database only).

The operator keeps `tenantry.servers`: every declared server, with the tenants placed there and
the tenant rows stored there, refreshed about once a minute; the control plane reads it to check
a move's target and to plan rebalancing. `tenantry.tenants.server` names the server of each
tenant's data (`main`, the home pool database, for every row before it).

A pool shard other than the home one keeps a guard row per tenant placed on it in its own
`tenantry.tenants`, with no db_host/db_port/db_name (the data is here); `tenantry.tenant_for`
now answers only for a row like that, so the home database no longer serves rows of a tenant
whose routing row names another shard's database (its copy left behind by a move).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _tenant_for(local_check: str) -> None:
    op.execute(f"""
        CREATE OR REPLACE FUNCTION tenantry.tenant_for(acting_role name) RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT t.tenant_key
              FROM tenantry.tenants t
              JOIN pg_catalog.pg_roles r ON r.rolname = t.db_role
             WHERE t.tenant_key = nullif(current_setting('tenantry.tenant_key', true), '')
               AND t.placement = 'pool' AND NOT t.suspended AND t.retained_at IS NULL
               AND pg_catalog.pg_has_role(acting_role, r.oid, 'MEMBER')
               AND pg_catalog.pg_has_role(session_user, acting_role, 'MEMBER'){local_check}
        $$""")


def upgrade() -> None:
    if context.config.attributes.get("mode", "pool") != "pool":
        return
    _tenant_for("\n               AND t.db_name IS NULL")
    op.execute("""
        CREATE TABLE tenantry.servers (
            name       text PRIMARY KEY,
            kind       text NOT NULL CHECK (kind IN ('pool', 'silo')),
            host       text NOT NULL,
            port       integer NOT NULL,
            database   text,
            tenants    integer NOT NULL DEFAULT 0,
            rows       bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CHECK ((kind = 'silo') = (database IS NULL))
        )""")
    op.execute("GRANT SELECT ON tenantry.servers TO tenantry_app")
    op.execute("ALTER TABLE tenantry.tenants ADD COLUMN server text NOT NULL DEFAULT 'main'")


def downgrade() -> None:
    if context.config.attributes.get("mode", "pool") == "pool":
        _tenant_for("")
        op.execute("ALTER TABLE tenantry.tenants DROP COLUMN server")
        op.execute("DROP TABLE tenantry.servers")
