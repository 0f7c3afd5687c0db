"""The app plane authorizes by role as well as tenant, on the real platform.

- Viewers read, members also write, deleting and exporting need their own permissions; each
  route publishes the one it needs in OpenAPI (`x-permission`).
- A removed or demoted user, a revoked key and a key whose creator left lose app access as the
  change commits (the tokens they hold are still unexpired).
- API keys work on the app plane with their scopes.
- Each tenant's app requests are limited by its Tier, one budget shared by the app's replicas.
- Lists are pages (a `Link` header names the next); the export streams everything.
- Matrix: every app route, as each role and as a key of tenant A, against tenant B's ids: no
  leak, no change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

ROLES = ("owner", "admin", "member", "viewer")


def tenant_on(api: httpx.Client, env: dict[str, str], name: str, tier: str) -> dict[str, Any]:
    """A signed-up tenant moved to `tier` by the platform admin, once the app serves it: its
    id, slug and owner."""
    body = support.signup(api, support.unique(name))
    support.set_tier(api, env, body["tenant"]["id"], tier)
    owner = support.auth(body)
    eventually(
        lambda: httpx.get(f"{env['APP_URL']}/api/projects", headers=owner).status_code == 200,
        timeout=60,
        what=f"the app serving {body['tenant']['slug']}",
    )
    return {"id": body["tenant"]["id"], "slug": body["tenant"]["slug"], "owner": owner}


def members(api: httpx.Client, tenant: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Headers of a user with each built-in role."""
    found = {"owner": tenant["owner"]}
    for role in ROLES[1:]:
        email = f"{role}@{tenant['slug']}.example.com"
        found[role] = support.join(api, tenant["id"], tenant["owner"], role, email)
    return found


def make_key(
    api: httpx.Client, tenant_id: str, headers: dict[str, str], scopes: list[str]
) -> dict[str, Any]:
    made = api.post(
        f"/tenants/{tenant_id}/api-keys", headers=headers, json={"name": "k", "scopes": scopes}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def exported_by(app: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    """The export, once the tenant's tier (which includes it) reached the app."""

    def served() -> httpx.Response | None:
        answer = app.get("/export", headers=headers)
        return answer if answer.status_code == 200 else None

    return eventually(served, what="the export of the standard plan")


def user_id(api: httpx.Client, headers: dict[str, str]) -> str:
    return str(api.get("/auth/me", headers=headers).json()["id"])


def test_each_role_may_do_what_its_permissions_say(
    api: httpx.Client, app: httpx.Client, env: dict[str, str]
) -> None:
    tenant = tenant_on(api, env, "Roles", "standard")
    who = members(api, tenant)
    made = app.post("/projects", json={"name": "plans"}, headers=who["member"])
    assert made.status_code == 201, made.text
    project = made.json()["id"]

    viewer = who["viewer"]
    assert [p["name"] for p in app.get("/projects", headers=viewer).json()] == ["plans"]
    refused = app.post("/projects", json={"name": "x"}, headers=viewer)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["permission"] == "data:write"
    assert app.delete(f"/projects/{project}", headers=viewer).status_code == 403
    assert app.delete(f"/projects/{project}", headers=who["member"]).status_code == 403
    assert app.get("/export", headers=who["member"]).status_code == 403
    exported = exported_by(app, who["admin"])
    assert [p["name"] for p in exported.json()["projects"]] == ["plans"]
    assert app.delete(f"/projects/{project}", headers=who["admin"]).status_code == 204

    document = app.get("/openapi.json").json()
    declared = {
        (method, path): operation.get("x-permission")
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if path.startswith("/api/")
    }
    assert declared[("get", "/api/projects")] == "data:read"
    assert declared[("post", "/api/projects/{project_id}/notes")] == "data:write"
    assert declared[("delete", "/api/notes/{note_id}")] == "data:delete"
    assert declared[("get", "/api/export")] == "data:export"
    assert None not in declared.values(), declared


def test_a_removed_or_demoted_user_and_a_revoked_key_lose_access_at_once(
    api: httpx.Client, app: httpx.Client, env: dict[str, str]
) -> None:
    tenant = tenant_on(api, env, "Removed", "free")
    who = members(api, tenant)
    owner, tid = tenant["owner"], tenant["id"]
    assert app.post("/projects", json={"name": "a"}, headers=who["member"]).status_code == 201
    key = make_key(api, tid, who["member"], ["data:read", "data:write"])
    keyed = support.bearer(key["key"])
    assert app.post("/projects", json={"name": "k"}, headers=keyed).status_code == 201

    member = user_id(api, who["member"])
    demoted = api.patch(f"/tenants/{tid}/users/{member}", headers=owner, json={"role": "viewer"})
    assert demoted.status_code == 200, demoted.text
    assert app.post("/projects", json={"name": "b"}, headers=who["member"]).status_code == 403
    assert app.post("/projects", json={"name": "b"}, headers=keyed).status_code == 403
    assert app.get("/projects", headers=keyed).status_code == 200  # narrowed, not gone

    assert api.delete(f"/tenants/{tid}/users/{member}", headers=owner).status_code == 204
    gone = app.get("/projects", headers=who["member"])
    assert gone.status_code == 401
    assert gone.headers["www-authenticate"] == "Bearer"
    assert app.get("/projects", headers=keyed).status_code == 401

    admins_key = make_key(api, tid, who["admin"], ["data:read"])
    admin_keyed = support.bearer(admins_key["key"])
    assert app.get("/projects", headers=admin_keyed).status_code == 200
    revoked = api.delete(f"/tenants/{tid}/api-keys/{admins_key['id']}", headers=owner)
    assert revoked.status_code == 204, revoked.text
    assert app.get("/projects", headers=admin_keyed).status_code == 401


def test_api_keys_act_with_their_scopes(
    api: httpx.Client, app: httpx.Client, env: dict[str, str]
) -> None:
    tenant = tenant_on(api, env, "Keys", "standard")
    owner, tid = tenant["owner"], tenant["id"]
    reader = support.bearer(make_key(api, tid, owner, ["data:read"])["key"])
    writer = support.bearer(make_key(api, tid, owner, ["data:read", "data:write"])["key"])
    control = support.bearer(make_key(api, tid, owner, ["tenant:read"])["key"])
    made = app.post("/projects", json={"name": "by key"}, headers=writer)
    assert made.status_code == 201, made.text
    assert [p["name"] for p in app.get("/projects", headers=reader).json()] == ["by key"]
    assert app.post("/projects", json={"name": "x"}, headers=reader).status_code == 403
    assert app.delete(f"/projects/{made.json()['id']}", headers=writer).status_code == 403
    assert app.get("/projects", headers=control).status_code == 403
    assert app.get("/projects", headers=support.bearer("tnt_not-a-key")).status_code == 401


def test_each_tenant_is_limited_by_its_tier_across_replicas(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
) -> None:
    tier = support.unique("slow")
    support.make_tier(custom, tier, appRateLimitPerMinute=4, features=["projects", "notes"])
    name = support.unique("limited")
    support.create_tenant(custom, name, tier=tier)
    support.wait_ready(custom, name)
    headers = support.token_for(env, name)
    replicas = [env["APP_URL"], *support.pod_urls(core, "tenantry-system")]
    assert len(replicas) >= 2, replicas

    def attempt(i: int) -> httpx.Response:
        return httpx.get(f"{replicas[i % len(replicas)]}/api/projects", headers=headers)

    codes = []
    for i in range(6):
        response = attempt(i)
        codes.append(response.status_code)
        if response.status_code == 429:
            break
    assert codes == [200, 200, 200, 200, 429], codes
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-policy"] == '"app";q=4;w=60'
    assert response.headers["content-type"] == "application/problem+json"
    neighbour = support.unique("neighbour")  # another tenant's budget is its own
    support.create_tenant(custom, neighbour, tier="free")
    support.wait_ready(custom, neighbour)
    other = support.token_for(env, neighbour)
    assert httpx.get(f"{replicas[0]}/api/projects", headers=other).status_code == 200


def test_lists_come_in_pages_and_the_export_streams(
    api: httpx.Client, app: httpx.Client, env: dict[str, str]
) -> None:
    tenant = tenant_on(api, env, "Pages", "standard")
    owner = tenant["owner"]
    names = [f"p{i}" for i in range(5)]
    ids = [app.post("/projects", json={"name": n}, headers=owner).json()["id"] for n in names]
    for i in range(3):
        app.post(f"/projects/{ids[0]}/notes", json={"title": f"n{i}"}, headers=owner)

    seen: list[str] = []
    url: str | None = f"{env['APP_URL']}/api/projects?limit=2"
    while url:
        page = httpx.get(url, headers=owner)
        assert page.status_code == 200, page.text
        assert len(page.json()) <= 2
        seen += [p["name"] for p in page.json()]
        url = page.links.get("next", {}).get("url")
    assert seen == names
    notes = app.get(f"/projects/{ids[0]}/notes", params={"limit": 2}, headers=owner)
    assert [n["title"] for n in notes.json()] == ["n0", "n1"]
    assert "next" in notes.links
    assert app.get("/projects", params={"cursor": "bogus"}, headers=owner).status_code == 400
    assert app.get("/projects", params={"limit": 5000}, headers=owner).status_code == 422

    exported = exported_by(app, owner)
    assert exported.headers.get("transfer-encoding") == "chunked"
    body = json.loads(exported.content)
    assert [p["name"] for p in body["projects"]] == names
    assert [n["title"] for n in body["notes"]] == ["n0", "n1", "n2"]


@pytest.fixture(scope="module")
def victim(api: httpx.Client, app: httpx.Client, env: dict[str, str]) -> dict[str, Any]:
    tenant = tenant_on(api, env, "Victim", "standard")
    project = app.post("/projects", json={"name": "secret"}, headers=tenant["owner"]).json()
    note = app.post(
        f"/projects/{project['id']}/notes", json={"title": "t"}, headers=tenant["owner"]
    ).json()
    return {**tenant, "project": project["id"], "note": note["id"]}


def test_no_principal_of_a_reaches_b_on_the_app_plane(
    api: httpx.Client, app: httpx.Client, env: dict[str, str], victim: dict[str, Any]
) -> None:
    attacker = tenant_on(api, env, "Attacker", "standard")
    principals = members(api, attacker)
    principals["key"] = support.bearer(
        make_key(api, attacker["id"], attacker["owner"], ["data:read", "data:write"])["key"]
    )
    project, note = victim["project"], victim["note"]
    calls: list[Callable[[dict[str, str]], httpx.Response]] = [
        lambda h: app.get(f"/projects/{project}", headers=h),
        lambda h: app.get(f"/projects/{project}/notes", headers=h),
        lambda h: app.post(f"/projects/{project}/notes", json={"title": "x"}, headers=h),
        lambda h: app.delete(f"/projects/{project}", headers=h),
        lambda h: app.get(f"/notes/{note}", headers=h),
        lambda h: app.patch(f"/notes/{note}", json={"body": "pwned"}, headers=h),
        lambda h: app.delete(f"/notes/{note}", headers=h),
    ]
    before = app.get("/export", headers=victim["owner"]).json()
    for role, headers in principals.items():
        for call in calls:
            answer = call(headers)
            assert answer.status_code in (403, 404), (role, answer.request.url, answer.text)
            assert "secret" not in answer.text
        listed = app.get("/projects", headers=headers)
        assert listed.status_code == 200, (role, listed.text)
        assert listed.json() == [], role
        exported = app.get("/export", headers=headers)
        assert exported.status_code == 403 or "secret" not in exported.text, role
    assert app.get("/export", headers=victim["owner"]).json() == before
