"""Tenant namespaces may send traffic only to DNS and to the tenant's own database."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("tier", ["free", "enterprise"])
def test_egress_is_dns_and_the_tenants_database(
    tier: str, kube: client.ApiClient, custom: client.CustomObjectsApi
) -> None:
    name = support.unique(f"egress-{tier}")
    support.create_tenant(custom, name, tier=tier)
    database = support.wait_ready(custom, name, timeout=90)["status"]["database"]
    networking = client.NetworkingV1Api(kube)
    policy = networking.read_namespaced_network_policy("tenant-egress", f"tenant-{name}")
    assert policy.spec.policy_types == ["Egress"]
    dns, data = policy.spec.egress
    assert dns.to is None
    assert {(p.protocol, p.port) for p in dns.ports} == {("UDP", 53), ("TCP", 53)}
    assert [peer.ip_block.cidr for peer in data.to] == [f"{database['host']}/32"]
    assert [(p.protocol, p.port) for p in data.ports] == [("TCP", database["port"])]
    support.delete_tenant(custom, name)
