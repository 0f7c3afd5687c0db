"""Tenant backups: the `backups` column of `tenants` (the Tenant's status.backups, newest
last, mirrored by workers.mirror) and `restore_request` (the live restore a platform admin
asked for, applied as the Tenant's spec.restore).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column(
            "backups",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )
    op.add_column("tenants", sa.Column("restore_request", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("tenants", "restore_request")
    op.drop_column("tenants", "backups")
