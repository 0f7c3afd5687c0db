"""The platform's roles on a Postgres server are ensured by every reconcile of a tenant there,
and every bridge tenant's reconcile grants CONNECT on the pool database: many at once must take
turns, not fail with "tuple concurrently updated" (which once turned a tenant's phase to Failed
in the middle of a move)."""

from __future__ import annotations

from concurrent import futures

import pytest
from tenantry_operator import grants, postgres, settings

from tenantry_core import routing

pytestmark = pytest.mark.integration


def test_concurrent_reconciles_of_one_server_ensure_its_roles_in_turn(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cfg = settings.OperatorSettings()  # the operator's, from the platform's environment

    def ensure(_: int) -> None:
        with postgres.connect(cfg.admin_url()) as conn:
            grants.ensure_server_roles(conn, cfg)
            # What each bridge tenant's reconcile does to the pool database's ACL.
            grants.grant_connect(conn, cfg.pool_database, routing.TENANT_GROUP)

    with futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(ensure, range(48)))  # re-raises the first failure

    with postgres.connect(cfg.admin_url()) as conn:
        found = conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles "
            "WHERE rolname = ANY(%s) ORDER BY rolname",
            ([routing.APP_ROLE, routing.OWNER_ROLE, routing.TENANT_GROUP],),
        ).fetchall()
    assert sorted(found) == sorted(
        [
            (routing.APP_ROLE, True, False, False),
            (routing.OWNER_ROLE, False, False, False),
            (routing.TENANT_GROUP, False, False, False),
        ]
    )
