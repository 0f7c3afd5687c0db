"""The pool database is closed to roles the operator did not grant it to, tenants get no
temporary tables there, and `tenantry.tenant_for()` answers only for the caller's own role."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from kubernetes import client

from tenantry_core import urls
from tests.integration import support

pytestmark = pytest.mark.integration


def test_a_role_without_a_grant_cannot_connect_to_the_pool(
    env: dict[str, str], pool_admin: psycopg.Connection[Any]
) -> None:
    stranger = f"stranger_{uuid.uuid4().hex[:8]}"
    pool_admin.execute(f'CREATE ROLE "{stranger}" LOGIN')
    url = urls.with_database(env["TENANTRY_POSTGRES_ADMIN_URL"], env["TENANTRY_POOL_DATABASE"])
    as_stranger = url.replace("postgres@", f"{stranger}@", 1)
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(as_stranger, connect_timeout=5).close()


def test_pool_tenant_gets_no_temp_tables_and_cannot_probe_other_tenants(
    custom: client.CustomObjectsApi, core: client.CoreV1Api
) -> None:
    mine, other = support.unique("probe"), support.unique("probed")
    for name in (mine, other):
        support.create_tenant(custom, name, tier="free")
    for name in (mine, other):
        support.wait_ready(custom, name)
    with psycopg.connect(support.secret_url(core, mine), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TEMP TABLE scratch (x int)")
        conn.execute("SELECT set_config('tenantry.tenant_key', %s, false)", (mine,))
        assert conn.execute("SELECT tenantry.tenant_for(current_user)").fetchone() == (mine,)
        conn.execute("SELECT set_config('tenantry.tenant_key', %s, false)", (other,))
        # The shared app may act as any pooled tenant; asking on its behalf tells nothing.
        assert conn.execute("SELECT tenantry.tenant_for('tenantry_app')").fetchone() == (None,)
        other_role = "tnt_" + other.replace("-", "_")
        assert conn.execute("SELECT tenantry.tenant_for(%s)", (other_role,)).fetchone() == (None,)
