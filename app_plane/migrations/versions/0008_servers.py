"""The servers tenants' data lives on (pool shards and silo servers), and each routing row's
server (pool database only).

The operator keeps `tenantry.servers`: every declared server, with the tenants placed there and
the tenant rows stored there, refreshed about once a minute; the control plane reads it to check
a move's target and to plan rebalancing. `tenantry.tenants.server` names the server of each
tenant's data (`main`, the home pool database, for every row before it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.config.attributes.get("mode", "pool") != "pool":
        return
    op.execute("""
        CREATE TABLE tenantry.servers (
            name       text PRIMARY KEY,
            kind       text NOT NULL CHECK (kind IN ('pool', 'silo')),
            host       text NOT NULL,
            port       integer NOT NULL,
            database   text,
            tenants    integer NOT NULL DEFAULT 0,
            rows       bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CHECK ((kind = 'silo') = (database IS NULL))
        )""")
    op.execute("GRANT SELECT ON tenantry.servers TO tenantry_app")
    op.execute("ALTER TABLE tenantry.tenants ADD COLUMN server text NOT NULL DEFAULT 'main'")


def downgrade() -> None:
    if context.config.attributes.get("mode", "pool") == "pool":
        op.execute("ALTER TABLE tenantry.tenants DROP COLUMN server")
        op.execute("DROP TABLE tenantry.servers")
