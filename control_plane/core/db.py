"""The control plane's database engine and session factory (SQLAlchemy 2, psycopg 3)."""

from __future__ import annotations

import functools

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from control_plane.core import config


@functools.cache
def engine() -> Engine:
    return create_engine(config.get_settings().DATABASE_URL, pool_pre_ping=True, pool_size=10)


@functools.cache
def session_factory() -> sessionmaker[Session]:
    return sessionmaker(engine(), expire_on_commit=False)
