"""The default DatabaseProvisioner places silo databases on the least-loaded of two servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tenantry_operator import provisioner

from localplatform import postgres, procs, stack
from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.fixture
def second_server(tmp_path: Path) -> Iterator[postgres.Postgres]:
    supervisor = procs.Supervisor(tmp_path / "logs")
    server = postgres.Postgres(tmp_path / "pg2", procs.free_port())
    server.start(supervisor)
    try:
        yield server
    finally:
        supervisor.stop_all()


def test_databases_go_to_the_server_with_fewest_tenants(
    platform: stack.Platform, second_server: postgres.Postgres
) -> None:
    assert platform.pg is not None
    first = provisioner.Server.from_url(platform.pg.url("postgres"), name="first")
    second = provisioner.Server.from_url(second_server.url("postgres"), name="second")
    dbs = provisioner.ServerListProvisioner([first, second])
    names = ["tenant_" + support.unique("prov").replace("-", "_") for _ in range(2)]
    try:
        # Load the first server with one silo database; the second holds none.
        assert provisioner.ServerListProvisioner([first]).create(names[0]).server == first
        placed = dbs.create(names[1])
        assert placed.server == second
        assert dbs.create(names[1]) == placed  # idempotent: found, not created again
        assert dbs.locate(names[0]) == provisioner.Database(first, names[0])
    finally:
        for name in names:
            dbs.drop(name)
    assert all(dbs.locate(name) is None for name in names)
    assert dbs.drop(names[0]) is False
