"""The silo placement policy and server descriptions (pure parts of the provisioner)."""

import pytest
from tenantry_operator import provisioner


def test_fewest_tenants_first_and_ties_go_to_the_first_listed() -> None:
    assert provisioner.fewest_tenants({"a": 3, "b": 1, "c": 2}) == "b"
    assert provisioner.fewest_tenants({"a": 1, "b": 1}) == "a"


def test_no_servers_is_a_clear_error() -> None:
    with pytest.raises(provisioner.ProvisionerUnavailable, match="no database server"):
        provisioner.fewest_tenants({})


def test_server_from_admin_url() -> None:
    server = provisioner.Server.from_url("postgresql://postgres:pw@db-2.internal:6543/postgres")
    assert (server.name, server.public_host, server.public_port) == (
        "db-2.internal:6543",
        "db-2.internal",
        6543,
    )
    assert server.url("tenant_acme") == "postgresql://postgres:pw@db-2.internal:6543/tenant_acme"
    database = provisioner.Database(server, "tenant_acme")
    assert database.admin_url.endswith("/tenant_acme")
