"""Alembic environment of the control plane: migrates DATABASE_URL from Settings."""

from alembic import context
from sqlalchemy import create_engine, pool

from control_plane import models
from control_plane.core import config

connectable = create_engine(config.get_settings().DATABASE_URL, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=models.Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
