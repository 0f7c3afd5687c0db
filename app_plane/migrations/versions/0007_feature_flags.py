"""Feature flags, per-tenant overrides and rollout rings, for the app plane to evaluate (pool
database only; `tenantry_core.flags` says how they combine with the Tier's features).

The control plane publishes them from its registry as a platform admin changes them, and bumps
`tenantry.flag_state.version` in the same transaction: a replica keeps them cached and reloads
when that one-row version moved.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("flags", "feature_overrides", "tenant_rings", "flag_state")


def upgrade() -> None:
    if context.config.attributes.get("mode", "pool") != "pool":
        return
    op.execute("""
        CREATE TABLE tenantry.flags (
            key        text PRIMARY KEY,
            enabled    boolean NOT NULL,
            tenants    text[] NOT NULL DEFAULT '{}',  -- tenant ids it always reaches
            ring       text CHECK (ring IN ('internal', 'beta', 'all')),
            percentage integer NOT NULL CHECK (percentage BETWEEN 0 AND 100)
        )""")
    op.execute("""
        CREATE TABLE tenantry.feature_overrides (
            tenant_id uuid NOT NULL,
            feature   text NOT NULL,
            enabled   boolean NOT NULL,
            PRIMARY KEY (tenant_id, feature)
        )""")
    op.execute("""
        CREATE TABLE tenantry.tenant_rings (
            tenant_id uuid PRIMARY KEY,
            ring      text NOT NULL CHECK (ring IN ('internal', 'beta', 'all'))
        )""")
    op.execute("""
        CREATE TABLE tenantry.flag_state (
            one     boolean PRIMARY KEY DEFAULT true CHECK (one),
            version bigint NOT NULL
        )""")
    op.execute("INSERT INTO tenantry.flag_state (version) VALUES (0)")
    for table in TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.{table} TO tenantry_app")


def downgrade() -> None:
    if context.config.attributes.get("mode", "pool") == "pool":
        op.execute("DROP TABLE " + ", ".join(f"tenantry.{t}" for t in TABLES))
