"""Database URLs: the libpq and SQLAlchemy forms of one URL, and another database beside it."""

import pytest

from tenantry_core import urls

LIBPQ = "postgresql://tenantry_app:pw@127.0.0.1:5432/tenantry_pool"
SQLALCHEMY = "postgresql+psycopg://tenantry_app:pw@127.0.0.1:5432/tenantry_pool"


def test_libpq_and_sqlalchemy_urls_convert_both_ways_once() -> None:
    assert urls.sqlalchemy_url(LIBPQ) == SQLALCHEMY
    assert urls.libpq_url(SQLALCHEMY) == LIBPQ
    assert urls.sqlalchemy_url(SQLALCHEMY) == SQLALCHEMY
    assert urls.libpq_url(LIBPQ) == LIBPQ


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "mysql://user@db/app"])
def test_other_urls_are_left_alone(url: str) -> None:
    assert urls.sqlalchemy_url(url) == url
    assert urls.libpq_url(url) == url


def test_another_database_on_the_same_server_as_the_same_user() -> None:
    assert urls.with_database(LIBPQ, "tenant_acme") == (
        "postgresql://tenantry_app:pw@127.0.0.1:5432/tenant_acme"
    )
    assert urls.with_database("postgresql://postgres@db/postgres?sslmode=require", "x") == (
        "postgresql://postgres@db/x?sslmode=require"
    )
