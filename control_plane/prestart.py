"""Run before the control plane serves: wait for its database, then migrate it to head."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from control_plane.core import db

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


if __name__ == "__main__":
    main()
