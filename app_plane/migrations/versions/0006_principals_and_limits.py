"""Who may use each tenant's data, and how fast (pool database only).

- `tenantry.principals`: each tenant's users and API keys with the `data:*` permissions they
  hold now, written by the control plane as users, roles and keys change; the app plane checks
  every request against it, so a removed user or revoked key loses access as the change commits.
- `tenantry.tier_limits`: the app requests a minute each Tier allows, written by the operator.
- `tenantry.rate_limits`: the app plane's GCRA state, shared by its replicas.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.config.attributes.get("mode", "pool") != "pool":
        return
    op.execute("""
        CREATE TABLE tenantry.principals (
            id          uuid PRIMARY KEY,  -- the user's or the API key's registry id
            tenant_id   uuid NOT NULL,     -- the registry's tenant (a token's `tid`)
            tenant_key  text NOT NULL,
            kind        text NOT NULL CHECK (kind IN ('user', 'api_key')),
            key_hash    text UNIQUE,       -- API keys: SHA-256 of the key
            permissions text[] NOT NULL,
            expires_at  timestamptz,
            updated_at  timestamptz NOT NULL DEFAULT now(),
            CHECK ((kind = 'api_key') = (key_hash IS NOT NULL))
        )""")
    op.execute("CREATE INDEX principals_tenant_id ON tenantry.principals (tenant_id)")
    op.execute("CREATE INDEX principals_tenant_key ON tenantry.principals (tenant_key)")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.principals TO tenantry_app")
    op.execute("""
        CREATE TABLE tenantry.tier_limits (
            tier                text PRIMARY KEY,
            requests_per_minute integer NOT NULL CHECK (requests_per_minute > 0)
        )""")
    op.execute("GRANT SELECT ON tenantry.tier_limits TO tenantry_app")
    op.execute("""
        CREATE TABLE tenantry.rate_limits (
            key text PRIMARY KEY,
            tat timestamptz NOT NULL
        )""")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.rate_limits TO tenantry_app")


def downgrade() -> None:
    if context.config.attributes.get("mode", "pool") == "pool":
        op.execute("DROP TABLE tenantry.rate_limits, tenantry.tier_limits, tenantry.principals")
