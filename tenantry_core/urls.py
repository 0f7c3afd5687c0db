"""Database URLs: the SQLAlchemy dialect of a libpq URL, and the same server's other database.

Used wherever a component holds a `postgresql://` URL (settings, the operator's servers, the
app's engines, the usage reader).
"""

from __future__ import annotations

from urllib.parse import urlsplit


def sqlalchemy_url(url: str) -> str:
    """`postgresql://…` as SQLAlchemy's psycopg 3 URL; other URLs unchanged."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def libpq_url(url: str) -> str:
    """A SQLAlchemy `postgresql+psycopg://…` URL as libpq's."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def with_database(url: str, database: str) -> str:
    """The URL of `database` on the same server, as the same user."""
    return urlsplit(url)._replace(path=f"/{database}").geturl()
