"""The API server restarted while tenants are being created and moved to other Tiers: it stops
mid-reconcile and starts again on the same port, certificates and etcd. Every tenant converges
to Ready on its Tier's placement with no duplicate workload or routing row, kopf's watches of
Tenants and their children recover, and the control plane's outbox delivers the signup it could
not while the API server was down."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import urllib3
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support
from tests.integration import test_faults as faults

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PLACEMENT = {"free": "pool", "standard": "pool", "enterprise": "silo"}


@pytest.fixture
def api_server_back(platform: stack.Platform) -> Iterator[stack.Platform]:
    """The API server runs after the test, whatever it stopped."""
    try:
        yield platform
    finally:
        assert platform.kube_control_plane is not None
        if platform.kube_control_plane.apiserver is None:
            platform.start_api_server()


def outbox_entry(control_db: psycopg.Connection[Any], tenant_id: str) -> tuple[Any, ...] | None:
    """(attempts, processed, last error) of the tenant's latest apply_tenant entry."""
    return control_db.execute(
        "SELECT attempts, processed_at IS NOT NULL, last_error FROM outbox "
        "WHERE tenant_id = %s AND action = 'apply_tenant' ORDER BY id DESC LIMIT 1",
        (tenant_id,),
    ).fetchone()


def converged(
    custom: client.CustomObjectsApi, kube: client.ApiClient, name: str, tier: str
) -> None:
    """Ready on `tier` and its placement, with one workload (a silo's) or none (the pool's)."""
    tenant = support.wait_tier(custom, name, tier)
    placement = PLACEMENT[tier]
    assert tenant["status"]["placement"] == placement, name
    eventually(
        functools.partial(faults.no_duplicate_workload, kube, name, placement == "silo"),
        timeout=60,
        what=f"{name}: one workload",
    )


def test_api_server_restarted_mid_reconcile_converges(
    api_server_back: stack.Platform,
    custom: client.CustomObjectsApi,
    kube: client.ApiClient,
    api: httpx.Client,
    env: dict[str, str],
    control_db: psycopg.Connection[Any],
    pool_admin: psycopg.Connection[Any],
) -> None:
    platform = api_server_back
    moving = {support.unique("apimove"): "enterprise", support.unique("apimove"): "standard"}
    for name in moving:
        support.create_tenant(custom, name, tier="free", deletionPolicy="Delete")
    signed = support.signup(api, support.unique("Apisignup"))["tenant"]
    for name in [*moving, signed["slug"]]:
        support.wait_ready(custom, name)
    created = [support.unique("apinew") for _ in range(2)]

    # Mid-reconcile: the tier changes and the creations are being worked on.
    for name, tier in moving.items():
        support.patch_tenant(custom, name, tier=tier)
    for name in created:
        support.create_tenant(custom, name, tier="free", deletionPolicy="Delete")
    eventually(
        lambda: all((support.get_tenant(custom, n) or {}).get("status") for n in created),
        what="the operator at work on the new tenants",
    )
    platform.stop_api_server()
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        client.VersionApi(kube).get_code(_request_timeout=2)

    # A tier change through the API while the API server is down: the outbox keeps it.
    support.set_tier(api, env, signed["id"], "standard")
    failed = eventually(
        lambda: (found := outbox_entry(control_db, signed["id"])) and found[0] >= 1 and found,
        what="a failed delivery of the tier change",
    )
    assert failed[1] is False, "not delivered while the API server is down"
    # A signup claims its name on the API server: it is refused for now, and nothing is kept.
    company = support.unique("Apidown")
    refused = api.post(
        "/signup",
        json={
            "company": company,
            "email": f"owner@{company.lower()}.example.com",
            "password": support.PASSWORD,
            "tier": "free",
        },
    )
    assert (refused.status_code, refused.headers.get("Retry-After")) == (503, "5"), refused.text
    kept = control_db.execute("SELECT count(*) FROM tenants WHERE company = %s", (company,))
    assert kept.fetchone() == (0,)
    platform.start_api_server()

    eventually(
        lambda: (found := outbox_entry(control_db, signed["id"])) and found[1] and found,
        timeout=60,
        what="the tier change delivered",
    )
    attempts, _, error = outbox_entry(control_db, signed["id"]) or (0, False, "")
    assert (attempts >= failed[0], error) == (True, None), "delivered by a later attempt"
    # The Tenant created after the restart is one kopf can only see through its Tenant watch.
    late = support.signup(api, company)["tenant"]["slug"]
    tiers = {**moving, **dict.fromkeys(created, "free"), signed["slug"]: "standard", late: "free"}
    for name, tier in tiers.items():
        converged(custom, kube, name, tier)
        rows = pool_admin.execute(
            "SELECT count(*) FROM tenantry.tenants WHERE tenant_key = %s", (name,)
        ).fetchone()
        assert rows == (1,), f"{name}: one routing row"

    # The watches of children recovered too: a deleted child comes back at once, not at the
    # tenant's next resync (15 to 20 s after its last reconcile).
    namespace = f"tenant-{created[0]}"
    networking = client.NetworkingV1Api(kube)
    networking.delete_namespaced_network_policy("tenant-isolation", namespace)
    eventually(
        lambda: any(
            p.metadata.name == "tenant-isolation"
            for p in networking.list_namespaced_network_policy(namespace).items
        ),
        timeout=5,
        what="the deleted NetworkPolicy restored through its watch",
    )
    for name in tiers:  # the tests that follow find the platform as it was
        custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", name)
    for name in tiers:
        eventually(
            functools.partial(lambda n: support.get_tenant(custom, n) is None, name),
            timeout=60,
            what=f"{name} deleted",
        )
