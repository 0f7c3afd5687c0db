"""Invitations are mailed: the token is made when the mail is sent (an invitation has no token
until then), and `mailed_at` says when it was.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("invitations", "token_hash", existing_type=sa.String(64), nullable=True)
    op.add_column("invitations", sa.Column("mailed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("invitations", "mailed_at")
    op.execute("DELETE FROM invitations WHERE token_hash IS NULL")
    op.alter_column("invitations", "token_hash", existing_type=sa.String(64), nullable=False)
