"""A Tier limits its tenants' database roles: CONNECTION LIMIT and statement_timeout, with
defaults from the CRD, and a Tier change reaches the role."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def role_limits(pool: psycopg.Connection[Any], name: str) -> tuple[Any, ...] | None:
    return pool.execute(
        "SELECT rolconnlimit, rolconfig FROM pg_roles WHERE rolname = %s",
        ("tnt_" + name.replace("-", "_"),),
    ).fetchone()


def test_tier_sets_connection_limit_and_statement_timeout(
    custom: client.CustomObjectsApi, core: client.CoreV1Api, pool_admin: psycopg.Connection[Any]
) -> None:
    name = support.unique("limited")
    support.create_tenant(custom, name, tier="free")
    support.wait_ready(custom, name)
    assert role_limits(pool_admin, name) == (20, ["statement_timeout=30s"])

    tight = support.unique("tight")
    support.make_tier(custom, tight, database={"connectionLimit": 2, "statementTimeout": "200ms"})
    support.patch_tenant(custom, name, tier=tight)
    eventually(
        lambda: role_limits(pool_admin, name) == (2, ["statement_timeout=200ms"]),
        what="the Tier's limits on the role",
    )
    with (
        psycopg.connect(support.secret_url(core, name)) as conn,
        pytest.raises(psycopg.errors.QueryCanceled),
    ):
        conn.execute("SELECT pg_sleep(2)")
