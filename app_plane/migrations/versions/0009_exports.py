"""The catalog of background exports (pool database only): one row per `POST /api/exports`.

The app plane's export worker (app_plane.exports) claims a queued row, or a running one whose
lease ran out (its worker died), writes the archive and records completion here; the control
plane (services.exports, from its sweeper) mails the requester once and sets `notified_at`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if context.config.attributes.get("mode", "pool") != "pool":
        return
    op.execute("""
        CREATE TABLE tenantry.exports (
            id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            tenant_id      uuid NOT NULL,
            tenant_key     text NOT NULL,
            requested_by   text NOT NULL,  -- the principal's id (a user or an API key)
            requested_kind text NOT NULL CHECK (requested_kind IN ('user', 'api_key')),
            state          text NOT NULL DEFAULT 'queued'
                           CHECK (state IN ('queued', 'running', 'done', 'failed')),
            attempts       integer NOT NULL DEFAULT 0,
            lease_until    timestamptz,      -- a running job's worker holds it until then
            tables_done    integer NOT NULL DEFAULT 0,
            rows_done      bigint NOT NULL DEFAULT 0,
            manifest       jsonb,
            size_bytes     bigint,
            error          text,
            created_at     timestamptz NOT NULL DEFAULT now(),
            finished_at    timestamptz,
            notified_at    timestamptz       -- the control plane queued the mail
        )""")
    op.execute(
        "CREATE INDEX exports_pending ON tenantry.exports (created_at) "
        "WHERE state IN ('queued', 'running')"
    )
    op.execute(
        "CREATE INDEX exports_unnotified ON tenantry.exports (finished_at) "
        "WHERE state = 'done' AND notified_at IS NULL"
    )
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.exports TO tenantry_app")


def downgrade() -> None:
    if context.config.attributes.get("mode", "pool") == "pool":
        op.execute("DROP TABLE tenantry.exports")
