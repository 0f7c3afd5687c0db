"""Alembic environment of the app plane: runs on the connection `app_plane.migrate` passes in.

The version table lives in the migrated schema (a bridge schema has its own revision); in the
pool it sits beside the routing table, so `public` holds only tenant data.
"""

from alembic import context

attributes = context.config.attributes
schema = attributes.get("schema", "public")
context.configure(
    connection=attributes["connection"],
    transactional_ddl=True,
    version_table_schema="tenantry" if attributes.get("mode", "pool") == "pool" else schema,
)
with context.begin_transaction():
    context.run_migrations()
