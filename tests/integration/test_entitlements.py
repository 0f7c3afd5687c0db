"""Entitlements come from the Tier: the control plane reports them, the app plane enforces them."""

from __future__ import annotations

import httpx
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_a_feature_outside_the_plan_is_refused_naming_the_plans_that_have_it(
    api: httpx.Client,
    app: httpx.Client,
    custom: client.CustomObjectsApi,
    env: dict[str, str],
) -> None:
    free = support.signup(api, support.unique("Frugal"), tier="free")
    paying = support.signup(api, support.unique("Paying"), tier="standard")
    support.verify_email(api, env, support.owner_email(paying))  # standard is held until then
    support.wait_ready(custom, free["tenant"]["slug"])
    support.wait_tier(custom, paying["tenant"]["slug"], "standard")

    seen = api.get(
        f"/tenants/{free['tenant']['id']}/entitlements", headers=support.auth(free)
    ).json()
    assert (seen["tier"], seen["features"]) == ("free", ["notes", "projects"])
    assert api.get(
        f"/tenants/{paying['tenant']['id']}/entitlements", headers=support.auth(paying)
    ).json()["features"] == ["export", "notes", "projects"]
    assert (
        api.get(
            f"/tenants/{paying['tenant']['id']}/entitlements", headers=support.auth(free)
        ).status_code
        == 404
    )

    refused = app.get("/export", headers=support.auth(free))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["feature"], problem["plan"]) == ("export", "free")
    assert problem["plans_with_feature"] == ["enterprise", "pro", "standard"]
    assert "standard" in problem["detail"]

    app.post("/projects", json={"name": "mine"}, headers=support.auth(paying))
    exported = app.get("/export", headers=support.auth(paying))
    assert exported.status_code == 200
    assert [p["name"] for p in exported.json()["projects"]] == ["mine"]


def test_silo_dedicated_app_enforces_its_own_plan(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    env: dict[str, str],
) -> None:
    name = support.unique("ent")
    support.create_tenant(custom, name, tier="enterprise")
    support.wait_ready(custom, name)
    urls = eventually(lambda: support.pod_urls(core, f"tenant-{name}"), what="pod urls")
    served = httpx.get(f"{urls[0]}/api/export", headers=support.token_for(env, name))
    assert served.status_code == 200
    assert served.json() == {"projects": [], "notes": []}


def test_app_plane_meters_api_calls_per_tenant(
    api: httpx.Client,
    app: httpx.Client,
    custom: client.CustomObjectsApi,
) -> None:
    metered, other = (support.signup(api, support.unique(n)) for n in ("Metered", "Quiet"))
    for body in (metered, other):
        support.wait_ready(custom, body["tenant"]["slug"])
    for _ in range(7):
        assert app.get("/projects", headers=support.auth(metered)).status_code == 200
    app.get("/projects", headers=support.auth(other))

    def total(body: dict[str, object]) -> int:
        tenant = body["tenant"]
        assert isinstance(tenant, dict)
        seen = api.get(f"/tenants/{tenant['id']}/usage", headers=support.auth(body))
        assert seen.status_code == 200, seen.text
        return int(seen.json()["total_api_calls"])

    app.post("/projects", json={"name": "counted"}, headers=support.auth(metered))
    eventually(lambda: total(metered) == 8, timeout=20, what="8 calls metered")
    (day,) = api.get(
        f"/tenants/{metered['tenant']['id']}/usage", headers=support.auth(metered)
    ).json()["days"]
    assert day["stored_rows"] == 1
    assert total(other) == 1
    assert app.get("/projects").status_code == 401  # unauthenticated calls are not anyone's
    assert total(metered) == 8
