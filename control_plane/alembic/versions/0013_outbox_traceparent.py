"""The outbox keeps the trace of the change that wrote each entry (its W3C traceparent), so the
worker that carries the entry out continues that trace.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.String(100)))


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
