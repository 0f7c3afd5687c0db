"""Tenant webhooks: the `webhook_endpoints` table, and `webhooks:manage` in the built-in admin
and owner roles (`core.permissions`).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# A frozen copy of what this revision adds to core.permissions.BUILTIN_ROLES.
ADDED = {"admin": ["webhooks:manage"], "owner": ["webhooks:manage"]}


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.UUID(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    for role, perms in ADDED.items():
        for perm in perms:
            op.execute(
                sa.text(
                    "INSERT INTO role_permissions (role_id, permission) "
                    "SELECT id, :p FROM roles WHERE tenant_id IS NULL AND name = :n "
                    "ON CONFLICT DO NOTHING"
                ).bindparams(p=perm, n=role)
            )


def downgrade() -> None:
    op.execute("DELETE FROM role_permissions WHERE permission = 'webhooks:manage'")
    op.execute("DELETE FROM outbox WHERE action = 'deliver_webhook'")
    op.drop_table("webhook_endpoints")
