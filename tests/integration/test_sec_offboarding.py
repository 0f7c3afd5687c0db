"""A Tenant deleted before its placement was recorded (the operator died between provisioning
and writing status) still has its role's logins stopped and its routing row disabled."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_delete_before_placement_is_recorded_disables_role_and_route(
    custom: client.CustomObjectsApi, pool_admin: psycopg.Connection[Any]
) -> None:
    name = support.unique("unplaced")
    role = "tnt_" + name.replace("-", "_")
    # A Tier that does not exist: the operator records no placement.
    support.create_tenant(custom, name, tier=support.unique("no-such-tier"))
    eventually(
        lambda: support.condition(support.get_tenant(custom, name)).get("reason") == "TierNotFound",
        what="TierNotFound",
    )
    # What a provisioning cut short by a crash leaves behind: a login role and a routing row.
    pool_admin.execute(f'CREATE ROLE "{role}" LOGIN')
    pool_admin.execute(
        "INSERT INTO tenantry.tenants (tenant_key, placement, tier, db_role, schema_name) "
        "VALUES (%s, 'pool', 'free', %s, 'public')",
        (name, role),
    )
    assert not (support.get_tenant(custom, name) or {}).get("status", {}).get("placement")

    support.delete_tenant(custom, name)
    assert pool_admin.execute(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone() == (False,)
    assert pool_admin.execute(
        "SELECT retained_at IS NOT NULL FROM tenantry.tenants WHERE tenant_key = %s", (name,)
    ).fetchone() == (True,)
