"""Usage per tenant and day, counted by the app plane (pool database only).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.config.attributes.get("mode", "pool") != "pool":
        return
    op.execute("""
        CREATE TABLE tenantry.usage (
            tenant_id   text NOT NULL,
            day         date NOT NULL,
            api_calls   bigint NOT NULL DEFAULT 0,
            stored_rows bigint NOT NULL DEFAULT 0,  -- the tenant's rows at the last flush
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, day)
        )""")
    op.execute("GRANT SELECT, INSERT, UPDATE ON tenantry.usage TO tenantry_app")


def downgrade() -> None:
    if context.config.attributes.get("mode", "pool") == "pool":
        op.execute("DROP TABLE tenantry.usage")
