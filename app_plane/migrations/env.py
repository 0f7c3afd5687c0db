"""Alembic environment of the app plane: runs on the connection `app_plane.migrate` passes in."""

from alembic import context

connection = context.config.attributes["connection"]
# The version table lives beside the routing table, so `public` holds only tenant data.
context.configure(connection=connection, transactional_ddl=True, version_table_schema="tenantry")
with context.begin_transaction():
    context.run_migrations()
