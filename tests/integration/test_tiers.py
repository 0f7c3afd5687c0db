"""Tier changes reach tenants; a missing or broken Tier is reported on the Tenant, no crash."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_tier_quota_change_reaches_the_resource_quota(
    custom: client.CustomObjectsApi, core: client.CoreV1Api
) -> None:
    tier, name = support.unique("tier"), support.unique("quota")
    support.make_tier(custom, tier, quota={"cpu": "2", "memory": "2Gi", "pods": 4})
    support.create_tenant(custom, name, tier=tier)
    support.wait_ready(custom, name)
    quota = core.read_namespaced_resource_quota("tenant-quota", f"tenant-{name}")
    assert quota.spec.hard["limits.cpu"] == "2"

    custom.patch_cluster_custom_object(
        support.GROUP, support.VERSION, "tiers", tier, {"spec": {"quota": {"cpu": "6", "pods": 9}}}
    )
    eventually(
        lambda: (
            core.read_namespaced_resource_quota("tenant-quota", f"tenant-{name}").spec.hard[
                "limits.cpu"
            ]
            == "6"
        ),
        what="quota updated",
    )
    hard = core.read_namespaced_resource_quota("tenant-quota", f"tenant-{name}").spec.hard
    assert hard["pods"] == "9"
    assert hard["limits.memory"] == "2Gi"


def test_unknown_tier_waits_then_converges(
    custom: client.CustomObjectsApi, core: client.CoreV1Api
) -> None:
    tier, name = support.unique("later"), support.unique("early")
    support.create_tenant(custom, name, tier=tier)
    ready = eventually(
        lambda: support.condition(support.get_tenant(custom, name)), what="Ready condition"
    )
    assert (ready["status"], ready["reason"]) == ("False", "TierNotFound")
    assert support.get_tenant(custom, name)["status"]["phase"] == "Pending"  # type: ignore[index]
    warning = eventually(
        lambda: [
            e
            for e in support.events_for(core, name)
            if e.type == "Warning" and e.reason == "TierNotFound"
        ],
        what="Warning event",
    )
    assert tier in warning[0].message

    support.make_tier(custom, tier)
    support.wait_ready(custom, name)


def test_invalid_quantities_are_refused_by_the_api_server(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(client.ApiException) as refused:
        support.make_tier(custom, support.unique("broken"), quota={"cpu": "lots"})
    assert refused.value.status == 422
    assert "quota.cpu" in refused.value.body


def test_objects_the_api_server_refuses_fail_with_a_reason_and_recover(
    custom: client.CustomObjectsApi, core: client.CoreV1Api
) -> None:
    # A default request above the default limit passes the Tier's schema but not LimitRange's.
    tier, name = support.unique("inverted"), support.unique("victim")
    support.make_tier(custom, tier, limits={"cpu": "100m", "requestCpu": "2"})
    support.create_tenant(custom, name, tier=tier)
    failed = eventually(
        lambda: (
            (c := support.condition(support.get_tenant(custom, name)))
            and c.get("reason") == "ApplyFailed"
            and c
        ),
        what="ApplyFailed",
    )
    assert failed["message"].startswith(f"LimitRange tenant-{name}/tenant-limits:")
    assert support.get_tenant(custom, name)["status"]["phase"] == "Failed"  # type: ignore[index]
    assert eventually(
        lambda: [
            e
            for e in support.events_for(core, name)
            if e.type == "Warning" and e.reason == "ApplyFailed"
        ],
        what="Warning event",
    )
    custom.patch_cluster_custom_object(
        support.GROUP, support.VERSION, "tiers", tier, {"spec": {"limits": {"requestCpu": "50m"}}}
    )
    support.wait_ready(custom, name)
