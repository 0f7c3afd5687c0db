"""Feature flags and per-tenant overrides, and each tenant's rollout ring (services.flags).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_flags",
        sa.Column("key", sa.String(63), primary_key=True),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column(
            "tenants",
            postgresql.ARRAY(postgresql.UUID(as_uuid=True)),
            nullable=False,
            server_default="{}",
        ),
        sa.Column("ring", sa.String(10)),
        sa.Column("percentage", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint("percentage BETWEEN 0 AND 100", name="feature_flags_percentage"),
        sa.CheckConstraint("ring IN ('internal', 'beta', 'all')", name="feature_flags_ring"),
    )
    op.create_table(
        "feature_overrides",
        sa.Column(
            "tenant_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("feature", sa.String(63), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.add_column("tenants", sa.Column("ring", sa.String(10), nullable=False, server_default="all"))
    op.create_check_constraint("tenants_ring", "tenants", "ring IN ('internal', 'beta', 'all')")


def downgrade() -> None:
    op.drop_constraint("tenants_ring", "tenants")
    op.drop_column("tenants", "ring")
    op.drop_table("feature_overrides")
    op.drop_table("feature_flags")
