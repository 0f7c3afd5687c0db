"""Self-service signup becomes a Ready pooled tenant, with status read back through the API."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_signup_reconciles_to_ready_and_status_flows_back(
    api: httpx.Client, custom: client.CustomObjectsApi, core: client.CoreV1Api, platform: Any
) -> None:
    company = support.unique("Signup")
    body = support.signup(api, company)
    tenant = body["tenant"]
    assert tenant["slug"] == company.lower()
    assert tenant["tier"] == "free"
    assert tenant["phase"] == "Pending"
    assert tenant["lifecycle"] == "active"

    resource = support.wait_ready(custom, tenant["slug"], timeout=10)
    assert resource["spec"]["displayName"] == company
    assert resource["status"]["placement"] == "pool"
    assert resource["status"]["namespace"] == f"tenant-{tenant['slug']}"
    assert resource["status"]["observedGeneration"] == resource["metadata"]["generation"]
    assert {c["type"]: c["status"] for c in resource["status"]["conditions"]} == {
        "NamespaceReady": "True",
        "DatabaseReady": "True",
        "WorkloadReady": "True",
        "Suspended": "False",
        "MigrationRequired": "False",
        "Migrating": "False",
        "MigrationFailed": "False",
        "Ready": "True",
    }

    def api_ready() -> dict[str, Any] | None:
        seen = api.get(f"/tenants/{tenant['id']}", headers=support.auth(body)).json()
        return seen if seen["phase"] == "Ready" else None

    seen = eventually(api_ready, timeout=10, what="registry shows Ready")
    assert seen["placement"] == "pool"
    assert {c["type"]: c["status"] for c in seen["conditions"]}["Ready"] == "True"

    reasons = {e.reason for e in support.events_for(core, tenant["slug"])}
    assert {"NamespaceReady", "DatabaseReady", "Ready"} <= reasons

    printed = platform.kubectl("get", "tnt", tenant["slug"]).stdout.split()
    assert printed[:6] == ["NAME", "TIER", "PLACEMENT", "PHASE", "READY", "AGE"]
    assert printed[6:11] == [tenant["slug"], "free", "pool", "Ready", "True"]


def test_tenant_children_are_owned_and_isolating(
    api: httpx.Client,
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    kube: client.ApiClient,
) -> None:
    tenant = support.signup(api, support.unique("Children"))["tenant"]
    resource = support.wait_ready(custom, tenant["slug"])
    namespace = core.read_namespace(f"tenant-{tenant['slug']}")
    (owner,) = namespace.metadata.owner_references
    assert (owner.kind, owner.uid) == ("Tenant", resource["metadata"]["uid"])
    assert namespace.metadata.labels["tenantry.dev/tenant"] == tenant["slug"]
    ns = namespace.metadata.name
    quota = core.read_namespaced_resource_quota("tenant-quota", ns)
    assert quota.spec.hard["limits.cpu"] == "1"
    assert quota.spec.hard["pods"] == "5"
    assert (
        core.read_namespaced_limit_range("tenant-limits", ns).spec.limits[0].default["cpu"]
        == "250m"
    )
    policy = client.NetworkingV1Api(kube).read_namespaced_network_policy("tenant-isolation", ns)
    assert policy.spec.policy_types == ["Ingress"]
    rbac = client.RbacAuthorizationV1Api(kube)
    assert rbac.read_namespaced_role_binding("tenant-admin", ns).role_ref.name == "tenant-admin"
    secret = core.read_namespaced_secret("tenant-db", ns)
    assert secret.metadata.owner_references[0].uid == resource["metadata"]["uid"]
    assert set(secret.data) >= {"host", "port", "dbname", "user", "password", "url"}
    assert resource["status"]["database"]["secretRef"] == {"namespace": ns, "name": "tenant-db"}
    for managed in quota.metadata.managed_fields or []:
        assert managed.manager in {"tenantry", "kube-controller-manager"}


def test_tenant_credentials_reach_only_its_own_rows(
    api: httpx.Client, custom: client.CustomObjectsApi, core: client.CoreV1Api, app: httpx.Client
) -> None:
    import base64

    mine, theirs = (support.signup(api, support.unique(n)) for n in ("Mine", "Theirs"))
    for body in (mine, theirs):
        support.wait_ready(custom, body["tenant"]["slug"])
        assert (
            app.post(
                "/projects",
                json={"name": f"p-{body['tenant']['slug']}"},
                headers=support.auth(body),
            ).status_code
            == 201
        )
    secret = core.read_namespaced_secret("tenant-db", f"tenant-{mine['tenant']['slug']}")
    url = base64.b64decode(secret.data["url"]).decode()
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(
                "SELECT set_config('tenantry.tenant_key', %s, true)", (theirs["tenant"]["slug"],)
            )
            assert conn.execute("SELECT count(*) FROM projects").fetchone() == (0,)
        with conn.transaction():
            conn.execute(
                "SELECT set_config('tenantry.tenant_key', %s, true)", (mine["tenant"]["slug"],)
            )
            assert conn.execute("SELECT name FROM projects").fetchall() == [
                (f"p-{mine['tenant']['slug']}",)
            ]


def test_bad_signups_are_problems_and_leave_nothing(
    api: httpx.Client, control_db: psycopg.Connection[Any]
) -> None:
    company = support.unique("Dup")
    support.signup(api, company)
    before = control_db.execute("SELECT count(*) FROM tenants").fetchone()

    duplicate = api.post(
        "/signup",
        json={
            "company": company.upper(),
            "email": "b@b.example.com",
            "password": "correct horse battery",
            "tier": "free",
        },
    )
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    assert duplicate.json()["title"] == "Tenant exists"

    invalid = api.post(
        "/signup",
        json={
            "company": "",
            "email": "nope",
            "password": "short",
            "tier": "free",
            "tenant_id": "someone-else",
        },
    )
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert {tuple(e["loc"]) for e in invalid.json()["errors"]} == {
        ("body", "company"),
        ("body", "email"),
        ("body", "password"),
        ("body", "tenant_id"),
    }

    unknown = api.post(
        "/signup",
        json={
            "company": support.unique("Tierless"),
            "email": "c@c.example.com",
            "password": "correct horse battery",
            "tier": "platinum",
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["title"] == "Unknown tier"

    assert control_db.execute("SELECT count(*) FROM tenants").fetchone() == before


def test_tenant_is_visible_only_to_its_own_principal(api: httpx.Client) -> None:
    a, b = (support.signup(api, support.unique(n)) for n in ("Alpha", "Beta"))
    assert api.get(f"/tenants/{a['tenant']['id']}", headers=support.auth(a)).status_code == 200
    other = api.get(f"/tenants/{a['tenant']['id']}", headers=support.auth(b))
    assert other.status_code == 404
    assert other.json()["title"] == "Not Found"
    assert api.get(f"/tenants/{a['tenant']['id']}").status_code == 401
    forged = {"Authorization": "Bearer " + a["token"]["access_token"][:-4] + "AAAA"}
    assert api.get(f"/tenants/{a['tenant']['id']}", headers=forged).status_code == 401


def test_tiers_and_openapi_are_served(api: httpx.Client, env: dict[str, str]) -> None:
    tiers = {t["name"]: t for t in api.get("/tiers").json()}
    assert {"free", "standard", "pro", "enterprise"} <= set(tiers)
    assert tiers["free"]["isolation"] == "pool"
    assert tiers["enterprise"]["isolation"] == "silo"
    assert tiers["free"]["quota"]["cpu"] == "1"
    spec = api.get("/openapi.json").json()
    assert {"/api/v1/signup", "/api/v1/tenants/{tenant_id}", "/api/v1/tiers"} <= set(spec["paths"])
    assert httpx.get(env["API_URL"] + "/healthz").json() == {"status": "ok"}
