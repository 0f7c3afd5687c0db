"""`tenantry.tenant_for(acting_role)` answers only for the caller: the session's login role must
be `acting_role` or a member of it (the shared app is a member of every tenant's role; a
tenant's own login role only of its own). A tenant can no longer probe which tenant another role
may act as. Pool only: bridge schemas and silo databases have no such function.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _tenant_for(caller_check: str) -> None:
    if context.config.attributes.get("mode", "pool") != "pool":
        return
    # Same signature: the policies that call it keep calling it.
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
               AND pg_catalog.pg_has_role(acting_role, r.oid, 'MEMBER'){caller_check}
        $$""")


def upgrade() -> None:
    # session_user: SECURITY DEFINER changes current_user, not the session's login role.
    _tenant_for("\n               AND pg_catalog.pg_has_role(session_user, acting_role, 'MEMBER')")


def downgrade() -> None:
    _tenant_for("")
