"""Billing: the plan catalog, tenants' Stripe state, processed Stripe events, the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Plan ids are the Stripe plan ids (localstripe has no /v1/prices, so plans are keyed by id).
CATALOG = [
    ("free-monthly", "free", "month", 0, "Free"),
    ("standard-monthly", "standard", "month", 2900, "Standard, monthly"),
    ("standard-annual", "standard", "year", 29000, "Standard, annual"),
    ("pro-monthly", "pro", "month", 9900, "Pro, monthly"),
    ("pro-annual", "pro", "year", 99000, "Pro, annual"),
    ("enterprise-monthly", "enterprise", "month", 49900, "Enterprise, monthly"),
    ("enterprise-annual", "enterprise", "year", 499000, "Enterprise, annual"),
]


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("tier", sa.String(63), nullable=False),
        sa.Column("interval", sa.String(10), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.bulk_insert(
        plans,
        [
            {
                "id": i,
                "tier": t,
                "interval": n,
                "amount": a,
                "currency": "usd",
                "display_name": d,
                "active": True,
            }
            for i, t, n, a, d in CATALOG
        ],
    )
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index("ix_audit_log_tenant_id", "audit_log", ["tenant_id"])
    op.add_column("outbox", sa.Column("payload", postgresql.JSONB(), nullable=True))
    op.add_column(
        "tenants",
        sa.Column("suspended", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("tenants", sa.Column("stripe_customer_id", sa.String(255), nullable=True))
    op.create_unique_constraint("tenants_stripe_customer_id_key", "tenants", ["stripe_customer_id"])
    op.add_column("tenants", sa.Column("stripe_subscription_id", sa.String(255), nullable=True))
    op.add_column(
        "tenants", sa.Column("billing_state", sa.String(20), server_default="none", nullable=False)
    )
    op.add_column(
        "tenants", sa.Column("billing_version", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "tenants",
        sa.Column("billing_tier_version", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("tenants", sa.Column("grace_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in (
        "grace_until",
        "billing_tier_version",
        "billing_version",
        "billing_state",
        "stripe_subscription_id",
        "stripe_customer_id",
        "suspended",
    ):
        op.drop_column("tenants", column)
    op.drop_column("outbox", "payload")
    op.drop_table("audit_log")
    op.drop_table("stripe_events")
    op.drop_table("plans")
