"""The app plane's permissions in the built-in roles: viewers read, members also write, admins
and owners also delete and export (`tenantry_core.scopes`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# A frozen copy of what this revision adds to core.permissions.BUILTIN_ROLES.
_READ = ["data:read"]
_WRITE = [*_READ, "data:write"]
_ALL = [*_WRITE, "data:delete", "data:export"]
ADDED = {"viewer": _READ, "member": _WRITE, "admin": _ALL, "owner": _ALL}


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
    op.execute("DELETE FROM role_permissions WHERE permission LIKE 'data:%'")
