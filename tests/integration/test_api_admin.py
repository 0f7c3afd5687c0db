"""The tenant admin API: listing with filters and pages, tier changes, suspend and resume, and
offboarding with a grace period, restorable until it ends, all reaching the Tenant resource."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support


def spec_of(custom: client.CustomObjectsApi, slug: str) -> dict[str, Any]:
    return dict((support.get_tenant(custom, slug) or {}).get("spec") or {})


def test_platform_admins_list_tenants_with_filters_and_pages(
    api: httpx.Client, env: dict[str, str]
) -> None:
    marker = support.unique("Listed")
    made = [support.signup(api, f"{marker}-{i}")["tenant"]["id"] for i in range(5)]
    admin = support.admin(api, env)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, str | int] = {"q": marker, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/tenants", headers=admin, params=params)
        assert page.status_code == 200, page.text
        seen += [t["id"] for t in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == made  # oldest first, no gaps, no repeats
    std = api.get("/tenants", headers=admin, params={"q": marker, "tier": "standard"})
    assert std.json()["items"] == []
    assert api.get("/tenants", headers=admin, params={"cursor": "garbage"}).status_code == 422
    owner = support.auth(support.signup(api, support.unique("Nosy")))
    assert api.get("/tenants", headers=owner).status_code == 403


def test_tier_changes_are_for_platform_admins(
    api: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> None:
    body = support.signup(api, support.unique("Retier"))
    tid, slug, owner = body["tenant"]["id"], body["tenant"]["slug"], support.auth(body)
    refused = api.patch(f"/tenants/{tid}", headers=owner, json={"tier": "standard"})
    assert refused.status_code == 403
    renamed = api.patch(f"/tenants/{tid}", headers=owner, json={"company": f"{slug} Renamed"})
    assert renamed.status_code == 200
    assert renamed.json()["company"] == f"{slug} Renamed"
    admin = support.admin(api, env)
    unknown = api.patch(f"/tenants/{tid}", headers=admin, json={"tier": "no-such-tier"})
    assert unknown.status_code == 422
    moved = api.patch(f"/tenants/{tid}", headers=admin, json={"tier": "standard"})
    assert moved.status_code == 200
    assert moved.json()["tier"] == "standard"
    eventually(lambda: spec_of(custom, slug).get("tier") == "standard", what="tier on the CR")
    eventually(lambda: spec_of(custom, slug).get("displayName") == f"{slug} Renamed", what="name")


def test_suspend_resume_offboard_and_restore_within_the_grace_period(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    body = support.signup(api, support.unique("Closing"))
    tid, slug, owner = body["tenant"]["id"], body["tenant"]["slug"], support.auth(body)
    support.wait_ready(custom, slug)
    admin = support.admin(api, env)
    assert api.post(f"/tenants/{tid}/suspend", headers=owner).status_code == 403
    assert api.post(f"/tenants/{tid}/suspend", headers=admin).json()["suspended"] is True
    support.wait_phase(custom, slug, "Suspended")
    assert api.post(f"/tenants/{tid}/resume", headers=admin).json()["suspended"] is False
    support.wait_ready(custom, slug)

    closed = api.post(f"/tenants/{tid}/offboard", headers=owner)
    assert closed.status_code == 200, closed.text
    assert closed.json()["lifecycle"] == "closing"
    assert closed.json()["offboard_after"]
    support.wait_phase(custom, slug, "Suspended")
    assert api.post(f"/tenants/{tid}/resume", headers=admin).status_code == 409
    restored = api.post(f"/tenants/{tid}/restore", headers=owner)
    assert restored.json()["lifecycle"] == "active"
    assert restored.json()["suspended"] is False
    support.wait_ready(custom, slug)

    # Offboard again and let the grace period run out: the sweeper deletes the resource.
    assert api.post(f"/tenants/{tid}/offboard", headers=owner).status_code == 200
    control_db.execute(
        "UPDATE tenants SET offboard_after = now() - interval '1 second' WHERE id = %s", (tid,)
    )
    eventually(lambda: support.get_tenant(custom, slug) is None, timeout=60, what="offboarded")
    late = api.post(f"/tenants/{tid}/restore", headers=admin)
    assert late.status_code == 409
    assert late.json()["title"] == "Grace period over"
    actions = [
        e["action"]
        for e in api.get(
            "/audit", headers=admin, params={"tenant_id": tid, "action": "tenant."}
        ).json()["items"]
    ]
    assert actions[:7] == [
        "tenant.offboard_grace_ended",
        "tenant.offboard",
        "tenant.restore",
        "tenant.offboard",
        "tenant.resume",
        "tenant.suspend",
        "tenant.signup",
    ]
