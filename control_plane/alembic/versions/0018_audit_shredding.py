"""Crypto-shredding of the audit log: a key per data subject (`audit_subject_keys`), and the
personal values of the entries already written sealed under them (core.shredding).

The audit log is append-only (its trigger refuses UPDATE, DELETE and TRUNCATE). This one-time
migration is the single exception: in its own transaction it disables the UPDATE/DELETE trigger,
rewrites `actor` (when an address), `before`, `after` and `client_ip` of each entry, and enables
the trigger again before it commits; the table is locked meanwhile, so no other write sees the
trigger off. The downgrade does not decrypt (that would need the keys it drops): it refuses.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-24
"""

import uuid
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from control_plane.core import shredding

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_subject_keys",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("subject_hash", sa.String(64), unique=True),
        sa.Column("key", sa.LargeBinary()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("erased_at", sa.DateTime(timezone=True)),
    )
    op.alter_column("audit_log", "client_ip", type_=sa.String(200))
    conn = op.get_bind()
    conn.execute(sa.text("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"))
    conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
    keys: dict[str, shredding.Key] = {}

    def key_for(subject: str) -> shredding.Key:
        if subject not in keys:
            keys[subject] = (uuid.uuid4(), shredding.new_key())
        return keys[subject]

    update = sa.text(
        "UPDATE audit_log SET actor = :actor, before = :before, after = :after, "
        "client_ip = :client_ip WHERE id = :id"
    ).bindparams(sa.bindparam("before", type_=JSONB), sa.bindparam("after", type_=JSONB))
    rows = conn.execute(sa.text("SELECT id, actor, before, after, client_ip FROM audit_log"))
    for row in rows.all():
        sealed = seal_entry(row._mapping, key_for)
        if sealed != dict(row._mapping):
            conn.execute(update, sealed)
    if keys:
        conn.execute(
            sa.text("INSERT INTO audit_subject_keys (id, subject_hash, key) VALUES (:id, :h, :k)"),
            [
                {"id": key_id, "h": shredding.subject_hash(subject), "k": secret}
                for subject, (key_id, secret) in keys.items()
            ],
        )
    conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change"))


def seal_entry(row: Any, key_for: shredding.KeyFor) -> dict[str, Any]:
    """An entry's columns with its personal values sealed (as services.audit.record does)."""
    subject = shredding.actor_subject(row["actor"])
    actor = row["actor"]
    if shredding.EMAIL.fullmatch(actor):
        actor = shredding.seal(key_for(subject), actor)
    client_ip = row["client_ip"]
    if client_ip and shredding.personal_actor(actor) and not shredding.sealed(client_ip):
        client_ip = shredding.seal(key_for(subject), client_ip)
    return {
        "id": row["id"],
        "actor": actor,
        "before": shredding.seal_document(row["before"], fallback=subject, key_for=key_for),
        "after": shredding.seal_document(row["after"], fallback=subject, key_for=key_for),
        "client_ip": client_ip,
    }


def downgrade() -> None:
    raise NotImplementedError("sealed audit values cannot be opened once their keys are dropped")
