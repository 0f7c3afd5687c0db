"""Record where an offboarded tenant's data was retained, or the snapshot it was saved to.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("data_retention", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("tenants", "data_retention")
