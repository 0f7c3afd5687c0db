"""Which features each Tier grants, for the app plane to enforce (pool database only).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.config.attributes.get("mode", "pool") != "pool":
        return
    # Written by the operator from the Tier resources; read by the app to enforce entitlements.
    op.execute("""
        CREATE TABLE tenantry.tier_features (
            tier    text NOT NULL,
            feature text NOT NULL,
            PRIMARY KEY (tier, feature)
        )""")
    op.execute("GRANT SELECT ON tenantry.tier_features TO tenantry_app")


def downgrade() -> None:
    if context.config.attributes.get("mode", "pool") == "pool":
        op.execute("DROP TABLE tenantry.tier_features")
