"""Drift: what a tenant's children should be is restored within 30 s of a change by hand,
with an Event naming what was restored."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from kubernetes import client

from tenantry_core import routing
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration

# The resync interval (20 s) bounds it on an idle machine; the rest is for a loaded one.
RESTORED_WITHIN = 60.0


def routing_row(pool_admin: psycopg.Connection[Any], name: str) -> tuple[Any, ...] | None:
    return pool_admin.execute(
        f"SELECT placement FROM {routing.ROUTING_TABLE} WHERE {routing.TENANT_COLUMN} = %s",
        (name,),
    ).fetchone()


def test_hand_edits_are_restored_and_named_in_an_event(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    kube: client.ApiClient,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = support.unique("drift")
    namespace = f"tenant-{name}"
    support.create_tenant(custom, name, tier="free")
    support.wait_ready(custom, name)
    networking = client.NetworkingV1Api(kube)
    pods = core.read_namespaced_resource_quota("tenant-quota", namespace).spec.hard["pods"]
    assert routing_row(pool_admin, name) == ("pool",)

    networking.delete_namespaced_network_policy("tenant-isolation", namespace)
    core.patch_namespaced_resource_quota(
        "tenant-quota", namespace, {"spec": {"hard": {"pods": "999"}}}
    )
    pool_admin.execute(
        f"DELETE FROM {routing.ROUTING_TABLE} WHERE {routing.TENANT_COLUMN} = %s", (name,)
    )

    def policy() -> bool:
        found = networking.list_namespaced_network_policy(namespace).items
        return any(p.metadata.name == "tenant-isolation" for p in found)

    def quota() -> bool:
        hard = core.read_namespaced_resource_quota("tenant-quota", namespace).spec.hard
        return bool(hard["pods"] == pods)

    def restored() -> str:
        return " ".join(
            e.message for e in support.events_for(core, name) if e.reason == "DriftRestored"
        )

    def all_back() -> str | None:
        said = restored()
        named = all(
            what in said
            for what in (
                f"NetworkPolicy {namespace}/tenant-isolation",
                f"ResourceQuota {namespace}/tenant-quota",
                "routing row",
            )
        )
        back = policy() and quota() and routing_row(pool_admin, name) == ("pool",)
        return said if named and back else None

    said = eventually(all_back, timeout=RESTORED_WITHIN, interval=0.5, what="drift restored")
    assert "Secret" not in said, "only what was changed by hand is named"
    assert support.condition(support.get_tenant(custom, name)).get("status") == "True"
    support.delete_tenant(custom, name)
