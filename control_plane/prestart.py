"""Run before the control plane serves: wait for its database, migrate it to head, and create
the first platform admin (FIRST_PLATFORM_ADMIN_EMAIL) unless that user exists."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from control_plane.core import config, db
from control_plane.services import auth

ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"


def main(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with db.engine().connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            break
        except sa.exc.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    command.upgrade(Config(str(ALEMBIC_INI)), "head")
    settings = config.get_settings()
    if settings.FIRST_PLATFORM_ADMIN_EMAIL and settings.FIRST_PLATFORM_ADMIN_PASSWORD:
        with db.session_factory()() as session:
            auth.ensure_platform_admin(
                session=session,
                email=settings.FIRST_PLATFORM_ADMIN_EMAIL,
                password=settings.FIRST_PLATFORM_ADMIN_PASSWORD,
            )


if __name__ == "__main__":
    main()
