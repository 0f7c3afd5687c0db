"""Stripe Checkout: the tenant's open Checkout session and the plan it pays for (a paid signup
or an upgrade waits for it to complete); plans priced per seat.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("checkout_session_id", sa.String(255)))
    op.add_column("tenants", sa.Column("checkout_plan", sa.String(120)))
    op.add_column(
        "plans", sa.Column("per_seat", sa.Boolean(), nullable=False, server_default="false")
    )


def downgrade() -> None:
    op.drop_column("plans", "per_seat")
    op.drop_column("tenants", "checkout_plan")
    op.drop_column("tenants", "checkout_session_id")
