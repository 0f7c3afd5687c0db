"""An index in the notes page's order, in every placement (pool, bridge schema, silo database).

A page of a project's notes is `ORDER BY created_at, id LIMIT n` after a cursor
(app_plane.pages): with an index on (project_id, created_at, id) it reads n rows, where the
index on (tenant_key, project_id) read and sorted all of the project's. It leads with the project,
not the tenant: the row-level security policy's tenant comparison is a filter the planner does
not take into an index condition, and a project belongs to one tenant anyway. Idempotent (`IF NOT
EXISTS`): `app_plane.migrate` may carry a schema whose revision was lost through it again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS notes_page ON notes (project_id, created_at, id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS notes_page")
