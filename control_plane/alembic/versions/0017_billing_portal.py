"""The customer portal for admins: `billing:portal` in the built-in admin and owner roles
(`core.permissions`). An admin's portal offers payment methods and invoices; cancelling and
changing plans there stay with `billing:manage` (owners).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# A frozen copy of what this revision adds to core.permissions.BUILTIN_ROLES.
ADDED = {"admin": ["billing:portal"], "owner": ["billing:portal"]}


def upgrade() -> None:
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
    op.execute("DELETE FROM role_permissions WHERE permission = 'billing:portal'")
