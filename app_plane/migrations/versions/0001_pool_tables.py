"""Tenant routing and guard (pool), and the projects/notes tables of every placement.

The same tables exist in the pool (public schema, many tenants, FORCE RLS), in a bridge schema
and in a silo database (one tenant each): identical shapes, tenant_id included, so a tenant's
rows can move between placements unchanged. `app_plane.migrate` sets `mode` and the search_path.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TENANT_TABLES = ("projects", "notes")


def _pool_routing() -> None:
    # Where each tenant's data lives; the operator writes it, the app reads it to route requests.
    op.execute("""
        CREATE TABLE tenantry.tenants (
            tenant_id   text PRIMARY KEY,
            placement   text NOT NULL DEFAULT 'pool'
                        CHECK (placement IN ('pool', 'bridge', 'silo')),
            tier        text NOT NULL,
            db_role     text NOT NULL,
            schema_name text NOT NULL DEFAULT 'public',
            db_host     text,
            db_port     integer,
            db_name     text,
            suspended   boolean NOT NULL DEFAULT false,
            retained_at timestamptz,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        )""")
    # The tenant a role may act as in this transaction: the per-transaction setting, honoured only
    # for a role that is a member of that tenant's role (the shared app role is a member of every
    # pooled tenant's role; a tenant's own login role only of its own) and only while the tenant
    # is active in the pool.
    op.execute("""
        CREATE FUNCTION tenantry.tenant_for(acting_role name) RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT t.tenant_id
              FROM tenantry.tenants t
              JOIN pg_catalog.pg_roles r ON r.rolname = t.db_role
             WHERE t.tenant_id = nullif(current_setting('tenantry.tenant_id', true), '')
               AND t.placement = 'pool' AND NOT t.suspended AND t.retained_at IS NULL
               AND pg_catalog.pg_has_role(acting_role, r.oid, 'MEMBER')
        $$""")
    op.execute("REVOKE ALL ON FUNCTION tenantry.tenant_for(name) FROM PUBLIC")
    op.execute("GRANT USAGE ON SCHEMA tenantry TO tenantry_tenant")
    op.execute("GRANT EXECUTE ON FUNCTION tenantry.tenant_for(name) TO tenantry_tenant")
    op.execute("GRANT SELECT ON tenantry.tenants TO tenantry_app")


def upgrade() -> None:
    mode = context.config.attributes.get("mode", "pool")
    if mode == "pool":
        _pool_routing()
    # Unqualified names: the search_path points at the target schema.
    op.execute("""
        CREATE TABLE projects (
            tenant_id  text NOT NULL DEFAULT current_setting('tenantry.tenant_id', true),
            id         uuid NOT NULL DEFAULT gen_random_uuid(),
            name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id)
        )""")
    op.execute("""
        CREATE TABLE notes (
            tenant_id  text NOT NULL DEFAULT current_setting('tenantry.tenant_id', true),
            id         uuid NOT NULL DEFAULT gen_random_uuid(),
            project_id uuid NOT NULL,
            title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
            body       text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id)
                ON DELETE CASCADE
        )""")
    op.execute("CREATE INDEX notes_project ON notes (tenant_id, project_id)")
    for table in TENANT_TABLES:
        # Every placement checks the tenant context; the pool also checks role membership.
        guard = (
            "(SELECT tenantry.tenant_for(current_user))"
            if mode == "pool"
            else "nullif(current_setting('tenantry.tenant_id', true), '')"
        )
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"""
            CREATE POLICY tenant_isolation ON {table}
                USING (tenant_id = {guard}) WITH CHECK (tenant_id = {guard})""")


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        op.execute(f"DROP TABLE {table}")
    if context.config.attributes.get("mode", "pool") == "pool":
        op.execute("DROP FUNCTION tenantry.tenant_for(name)")
        op.execute("DROP TABLE tenantry.tenants")
