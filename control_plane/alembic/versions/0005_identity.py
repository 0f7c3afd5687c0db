"""Identity and API hardening: roles and permissions, platform admins, refresh tokens, API keys,
invitations, a fuller audit log, idempotency records, rate-limit state, offboarding grace.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The built-in roles as of this revision (a frozen copy of core.permissions.BUILTIN_ROLES).
_VIEWER = ["tenant:read", "billing:read", "usage:read", "users:read"]
_MEMBER = [*_VIEWER, "api_keys:read", "api_keys:manage"]
_ADMIN = [*_MEMBER, "tenant:update", "users:manage", "roles:manage", "audit:read"]
_OWNER = [*_ADMIN, "billing:manage", "tenant:offboard"]
BUILTIN = {"owner": _OWNER, "admin": _ADMIN, "member": _MEMBER, "viewer": _VIEWER}


def _now() -> sa.Column[sa.DateTime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _tenant_fk() -> sa.Column[sa.UUID]:
    return sa.Column(
        "tenant_id", sa.UUID(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("id", sa.UUID(), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id", ondelete="CASCADE")),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        _now(),
    )
    op.create_index("ix_roles_tenant_id", "roles", ["tenant_id"])
    op.execute(
        "CREATE UNIQUE INDEX roles_name_per_tenant ON roles (coalesce(tenant_id::text, ''), name)"
    )
    op.create_table(
        "role_permissions",
        sa.Column(
            "role_id",
            sa.UUID(),
            sa.ForeignKey("roles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("permission", sa.String(63), primary_key=True),
    )
    for name, perms in BUILTIN.items():
        op.execute(
            sa.text("INSERT INTO roles (name, description) VALUES (:n, :d)").bindparams(
                n=name, d=f"Built-in {name} role"
            )
        )
        for perm in perms:
            op.execute(
                sa.text(
                    "INSERT INTO role_permissions (role_id, permission) "
                    "SELECT id, :p FROM roles WHERE tenant_id IS NULL AND name = :n"
                ).bindparams(p=perm, n=name)
            )

    op.add_column("users", sa.Column("role_id", sa.UUID(), sa.ForeignKey("roles.id")))
    op.add_column(
        "users",
        sa.Column("is_platform_admin", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.add_column("users", sa.Column("oidc_subject", sa.String(500), unique=True))
    op.execute(
        "UPDATE users SET role_id = r.id FROM roles r "
        "WHERE r.tenant_id IS NULL AND r.name = coalesce(users.role, 'member')"
    )
    op.drop_column("users", "role")
    op.alter_column("users", "tenant_id", nullable=True)
    op.alter_column("users", "password_hash", nullable=True)
    op.create_check_constraint(
        "users_admin_or_member",
        "users",
        "(is_platform_admin AND tenant_id IS NULL AND role_id IS NULL)"
        " OR (NOT is_platform_admin AND tenant_id IS NOT NULL AND role_id IS NOT NULL)",
    )

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("family_id", sa.UUID(), nullable=False, index=True),
        sa.Column(
            "user_id",
            sa.UUID(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.UUID(), primary_key=True),
        _tenant_fk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", postgresql.ARRAY(sa.String(63)), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.UUID(), primary_key=True),
        _tenant_fk(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role_id", sa.UUID(), sa.ForeignKey("roles.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("invited_by", sa.String(200), nullable=False),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_invitations_tenant_id", "invitations", ["tenant_id"])

    op.add_column("audit_log", sa.Column("resource", sa.String(200)))
    op.add_column("audit_log", sa.Column("client_ip", sa.String(64)))
    op.create_index("audit_log_tenant_newest", "audit_log", ["tenant_id", sa.text("id DESC")])
    # The audit log is append-only: no UPDATE, DELETE or TRUNCATE, whatever the application does.
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("response_body", sa.LargeBinary()),
        sa.Column("response_headers", postgresql.JSONB()),
        _now(),
    )
    op.create_index("idempotency_keys_created", "idempotency_keys", ["created_at"])
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("tenants", sa.Column("offboard_after", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("tenants", "offboard_after")
    op.drop_table("rate_limits")
    op.drop_table("idempotency_keys")
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER audit_log_no_change ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index("audit_log_tenant_newest", "audit_log")
    op.drop_column("audit_log", "client_ip")
    op.drop_column("audit_log", "resource")
    op.drop_table("invitations")
    op.drop_table("api_keys")
    op.drop_table("refresh_tokens")
    op.drop_constraint("users_admin_or_member", "users")
    op.execute("DELETE FROM users WHERE tenant_id IS NULL")
    op.alter_column("users", "tenant_id", nullable=False)
    op.add_column("users", sa.Column("role", sa.String(20), nullable=False, server_default="owner"))
    op.execute("UPDATE users SET role = r.name FROM roles r WHERE r.id = users.role_id")
    op.drop_column("users", "oidc_subject")
    op.drop_column("users", "is_platform_admin")
    op.drop_column("users", "role_id")
    op.drop_table("role_permissions")
    op.drop_table("roles")
