"""Indexes in the lists' page order, in every placement (pool, bridge schema, silo database).

A page of a project's notes or of the tenant's projects is `ORDER BY created_at, id LIMIT n`
after a cursor (app_plane.pages): with the index in that order it reads n rows, where the
index on (tenant_key, project_id) alone read and sorted all of them. The new notes index also
serves what the old one did (its leading columns), so that one goes.

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
    op.execute("CREATE INDEX notes_page ON notes (tenant_key, project_id, created_at, id)")
    op.execute("DROP INDEX notes_project")
    op.execute("CREATE INDEX projects_page ON projects (tenant_key, created_at, id)")


def downgrade() -> None:
    op.execute("DROP INDEX projects_page")
    op.execute("CREATE INDEX notes_project ON notes (tenant_key, project_id)")
    op.execute("DROP INDEX notes_page")
