"""One name for the tenant's key: the column `tenant_id` of the app's tables becomes `tenant_key`,
and the per-transaction setting `tenantry.tenant_id` becomes `tenantry.tenant_key`.

Renames keep every row, key, foreign key, index and publication row filter (they refer to the
column, not its name); the column defaults and the policies that read the setting are rewritten.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TENANT_TABLES = ("projects", "notes")


def _has_column(schema: str | None, table: str, column: str) -> bool:
    return (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = "
                "coalesce(:s, current_schema()) AND table_name = :t AND column_name = :c"
            ),
            {"s": schema, "t": table, "c": column},
        )
        .first()
        is not None
    )


def _rename_column(schema: str | None, table: str, old: str, new: str) -> None:
    """Rename unless already renamed: a placement whose revision was rewound re-runs this."""
    if _has_column(schema, table, old):
        name = f"{schema}.{table}" if schema else table
        op.execute(f"ALTER TABLE {name} RENAME COLUMN {old} TO {new}")


def _rename(old: str, new: str, setting: str) -> None:
    mode = context.config.attributes.get("mode", "pool")
    if mode == "pool":
        _rename_column("tenantry", "tenants", old, new)
        _rename_column("tenantry", "usage", old, new)
        # Same signature: the policies that call it keep calling it.
        op.execute(f"""
            CREATE OR REPLACE FUNCTION tenantry.tenant_for(acting_role name) RETURNS text
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp
            AS $$
                SELECT t.{new}
                  FROM tenantry.tenants t
                  JOIN pg_catalog.pg_roles r ON r.rolname = t.db_role
                 WHERE t.{new} = nullif(current_setting('{setting}', true), '')
                   AND t.placement = 'pool' AND NOT t.suspended AND t.retained_at IS NULL
                   AND pg_catalog.pg_has_role(acting_role, r.oid, 'MEMBER')
            $$""")
    guard = (
        "(SELECT tenantry.tenant_for(current_user))"
        if mode == "pool"
        else f"nullif(current_setting('{setting}', true), '')"
    )
    # Unqualified names: the search_path points at the target schema.
    for table in TENANT_TABLES:
        _rename_column(None, table, old, new)
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN {new} SET DEFAULT current_setting('{setting}', true)"
        )
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"""
            CREATE POLICY tenant_isolation ON {table}
                USING ({new} = {guard}) WITH CHECK ({new} = {guard})""")


def upgrade() -> None:
    _rename("tenant_id", "tenant_key", "tenantry.tenant_key")


def downgrade() -> None:
    _rename("tenant_key", "tenant_id", "tenantry.tenant_id")
