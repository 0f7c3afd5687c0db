"""Alembic environment of the app plane: runs on the connection `app_plane.migrate` passes in.

The version table lives in the migrated schema (a bridge schema has its own revision); in the
pool it sits beside the routing table, so `public` holds only tenant data
(`tenantry_core.schema.version_schema`).
"""

from alembic import context

from tenantry_core import enums
from tenantry_core import schema as schema_contract

attributes = context.config.attributes
schema = attributes.get("schema", "public")
context.configure(
    connection=attributes["connection"],
    transactional_ddl=True,
    version_table_schema=schema_contract.version_schema(
        enums.Isolation(attributes.get("mode", "pool")), schema
    ),
)
with context.begin_transaction():
    context.run_migrations()
