"""Moves: the placement a platform admin asked for (the Tenant's spec.placement), and the
server, last migration and move history mirrored from its status.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("placement_request", postgresql.JSONB()))
    op.add_column("tenants", sa.Column("server", sa.String(63)))
    op.add_column("tenants", sa.Column("migration", postgresql.JSONB()))
    op.add_column(
        "tenants",
        sa.Column(
            "moves", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
    )


def downgrade() -> None:
    op.drop_column("tenants", "moves")
    op.drop_column("tenants", "migration")
    op.drop_column("tenants", "server")
    op.drop_column("tenants", "placement_request")
