"""A tenant name has one live registry row, and only signups compete for company names.

The tenant key stays unique among tenants that are not offboarded, so a name re-created in
Kubernetes gets a registry row of its own instead of the old tenant's (and its users). Company
names stay unique among signups only: a Tenant made with kubectl keeps its display name, so the
mirror never has to invent one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("tenants_tenant_key_key", "tenants", type_="unique")
    op.create_index(
        "tenants_tenant_key_live",
        "tenants",
        ["tenant_key"],
        unique=True,
        postgresql_where=sa.text("offboarded_at IS NULL"),
    )
    op.drop_index("tenants_company_lower", table_name="tenants")
    op.create_index(
        "tenants_company_lower",
        "tenants",
        [sa.literal_column("lower(company)")],
        unique=True,
        postgresql_where=sa.text("source = 'signup'"),
    )


def downgrade() -> None:
    op.drop_index("tenants_company_lower", table_name="tenants")
    op.create_index(
        "tenants_company_lower", "tenants", [sa.literal_column("lower(company)")], unique=True
    )
    op.drop_index("tenants_tenant_key_live", table_name="tenants")
    op.create_unique_constraint("tenants_tenant_key_key", "tenants", ["tenant_key"])
