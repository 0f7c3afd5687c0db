"""Apply the app plane's Alembic migrations to a database.

Called by the operator when it prepares the shared pool database (and, later, each bridge schema
and silo database). Objects are created as the non-login role `tenantry_owner`, so the role the
app connects with never owns the tables it reads and row-level security binds it.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
OWNER_ROLE = "tenantry_owner"


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` (a superuser or owner connection) to `revision`."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"SET LOCAL ROLE {OWNER_ROLE}"))
            cfg = config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
