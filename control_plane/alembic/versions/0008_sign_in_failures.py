"""Failed sign-ins per client address, for an exponential delay instead of an account lock;
when a user last signed in with their password, the proof an OIDC identity needs to link.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("users", sa.Column("password_signed_in_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("users", "password_signed_in_at")
    op.drop_table("sign_in_failures")
