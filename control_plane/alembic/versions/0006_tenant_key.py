"""One name for the tenant's key: the registry's column `slug` becomes `tenant_key`.

The API still shows it as `slug`; the rename keeps every row and the unique constraint.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("tenants", "slug", new_column_name="tenant_key")
    op.execute("ALTER TABLE tenants RENAME CONSTRAINT tenants_slug_key TO tenants_tenant_key_key")


def downgrade() -> None:
    op.execute("ALTER TABLE tenants RENAME CONSTRAINT tenants_tenant_key_key TO tenants_slug_key")
    op.alter_column("tenants", "tenant_key", new_column_name="slug")
