"""Silo tenants: a dedicated database and a dedicated app deployment, isolated from others."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def silo_tenant(custom: client.CustomObjectsApi, **spec: Any) -> str:
    name = support.unique("silo")
    support.create_tenant(custom, name, tier=spec.pop("tier", "enterprise"), **spec)
    support.wait_ready(custom, name)
    return name


def test_silo_gets_a_database_and_a_running_app(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    kube: client.ApiClient,
    app: httpx.Client,
    env: dict[str, str],
) -> None:
    name = silo_tenant(custom)
    resource = support.get_tenant(custom, name)
    assert resource is not None
    database = "tenant_" + name.replace("-", "_")
    assert resource["status"]["placement"] == "silo"
    assert resource["status"]["database"]["name"] == database
    conds = {c["type"]: c for c in resource["status"]["conditions"]}
    assert conds["WorkloadReady"]["message"] == "deployment app: 2/2 replicas available"

    deployment = client.AppsV1Api(kube).read_namespaced_deployment("app", f"tenant-{name}")
    assert deployment.status.available_replicas == 2
    assert deployment.metadata.owner_references[0].uid == resource["metadata"]["uid"]
    assert core.read_namespaced_service("app", f"tenant-{name}").spec.ports[0].port == 80

    # The tenant's own credentials reach its database.
    with psycopg.connect(support.secret_url(core, name)) as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == (
            database,
            "tnt_" + name.replace("-", "_"),
        )

    # The shared app routes to the silo; the dedicated pods serve the same data.
    headers = support.token_for(env, name)
    made = app.post("/projects", json={"name": "silo plans"}, headers=headers)
    assert made.status_code == 201, made.text
    urls = eventually(lambda: support.pod_urls(core, f"tenant-{name}"), what="pod urls")
    for url in urls:
        served = httpx.get(f"{url}/api/projects", headers=headers)
        assert [p["name"] for p in served.json()] == ["silo plans"]
        stranger = support.minted_token(env, "someone-else")
        other = httpx.get(f"{url}/api/projects", headers=stranger)
        assert other.status_code == 404

    # The silo namespace holds the public key its app verifies tokens with, never a signing key.
    stored = core.read_namespaced_secret("app-plane", f"tenant-{name}").data
    assert set(stored) == {"JWT_PUBLIC_KEY"}
    published = base64.b64decode(stored["JWT_PUBLIC_KEY"]).decode()
    assert published.strip() == env["JWT_PUBLIC_KEY"].strip()
    assert "PRIVATE" not in base64.b64decode(stored["JWT_PUBLIC_KEY"]).decode()


def test_silos_cannot_reach_each_other(
    custom: client.CustomObjectsApi, core: client.CoreV1Api
) -> None:
    a, b = silo_tenant(custom), silo_tenant(custom)
    url_a, url_b = support.secret_url(core, a), support.secret_url(core, b)
    into_b = url_a.rsplit("/", 1)[0] + "/" + url_b.rsplit("/", 1)[1]
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(into_b)


def test_tier_change_within_silo_reapplies_quota_and_replicas(
    custom: client.CustomObjectsApi, core: client.CoreV1Api, kube: client.ApiClient
) -> None:
    small = support.unique("silo-small")
    support.make_tier(custom, small, isolation="silo", replicas=1, quota={"cpu": "3"})
    name = silo_tenant(custom)
    support.patch_tenant(custom, name, tier=small)
    apps = client.AppsV1Api(kube)
    eventually(
        lambda: apps.read_namespaced_deployment("app", f"tenant-{name}").spec.replicas == 1,
        what="replicas follow the tier",
    )
    resource = support.wait_phase(custom, name, "Ready")
    assert resource["status"]["placement"] == "silo"
    hard = core.read_namespaced_resource_quota("tenant-quota", f"tenant-{name}").spec.hard
    assert hard["limits.cpu"] == "3"


def test_suspend_and_resume_silo(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    kube: client.ApiClient,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = silo_tenant(custom)
    headers = support.token_for(env, name)
    assert app.post("/projects", json={"name": "kept"}, headers=headers).status_code == 201
    role = "tnt_" + name.replace("-", "_")
    url = support.secret_url(core, name)

    support.patch_tenant(custom, name, suspended=True)
    resource = support.wait_phase(custom, name, "Suspended")
    assert {c["type"]: c["status"] for c in resource["status"]["conditions"]}["Suspended"] == "True"
    apps = client.AppsV1Api(kube)
    assert apps.read_namespaced_deployment("app", f"tenant-{name}").spec.replicas == 0
    eventually(lambda: not support.pod_urls(core, f"tenant-{name}"), what="pods gone")
    assert pool_admin.execute(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone() == (False,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url)
    refused = app.get("/projects", headers=headers)
    assert refused.status_code == 503
    assert "suspended" in refused.json()["detail"]

    support.patch_tenant(custom, name, suspended=False)
    support.wait_phase(custom, name, "Ready")
    assert [p["name"] for p in app.get("/projects", headers=headers).json()] == ["kept"]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_delete_policies_for_silo(
    custom: client.CustomObjectsApi,
    pool_admin: psycopg.Connection[Any],
    control_db: psycopg.Connection[Any],
) -> None:
    def database_exists(name: str) -> bool:
        return (
            pool_admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s",
                ("tenant_" + name.replace("-", "_"),),
            ).fetchone()
            is not None
        )

    gone = silo_tenant(custom, deletionPolicy="Delete")
    kept = silo_tenant(custom, deletionPolicy="Retain")
    uid = support.wait_ready(custom, kept)["metadata"]["uid"]
    retained = "retained_" + uid.replace("-", "")
    support.delete_tenant(custom, gone)
    support.delete_tenant(custom, kept)
    assert not database_exists(gone)
    # Retained under a name bound to the Tenant's uid; the role is gone.
    assert not database_exists(kept)
    assert (
        pool_admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (retained,)).fetchone()
        is not None
    )
    assert (
        pool_admin.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
            ("tnt_" + kept.replace("-", "_"),),
        ).fetchone()
        is None
    )
    retention = eventually(
        lambda: (
            (
                r := control_db.execute(
                    "SELECT data_retention FROM tenants WHERE tenant_key = %s", (kept,)
                ).fetchone()
            )
            and r[0]
        ),
        what="registry records the retained data",
    )
    assert retention == {
        "policy": "Retain",
        "placement": "silo",
        "database": retained,
        "schema": "public",
        "tenantKey": retained,
        "uid": uid,
    }
