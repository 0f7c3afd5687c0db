"""The declarative base every control-plane table derives from, and its shared column helpers.

Used by the table modules of `control_plane.models`; Alembic reads `Base.metadata`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def created_now() -> Mapped[dt.datetime]:
    """A timestamp column the database sets to now() on insert."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
