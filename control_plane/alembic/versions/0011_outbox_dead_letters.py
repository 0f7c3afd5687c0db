"""The outbox's dead letters: an entry that failed OUTBOX_MAX_ATTEMPTS times gets `dead_at` and
leaves the pending queue until a platform admin retries it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("dead_at", sa.DateTime(timezone=True)))
    op.drop_index("outbox_pending", table_name="outbox")
    op.create_index(
        "outbox_pending",
        "outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("processed_at IS NULL AND dead_at IS NULL"),
    )
    op.create_index(
        "outbox_dead", "outbox", ["id"], postgresql_where=sa.text("dead_at IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_index("outbox_dead", table_name="outbox")
    op.drop_index("outbox_pending", table_name="outbox")
    op.create_index(
        "outbox_pending",
        "outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.drop_column("outbox", "dead_at")
