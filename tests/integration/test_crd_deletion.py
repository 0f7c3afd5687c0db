"""Deleting the CRDs (as an uninstall would) keeps every tenant's namespace, Secret and data,
whatever its deletionPolicy; re-installing them and re-applying the Tenants serves the same data
again. A Tenant of the same name without the old one's identity takes nothing over.

Deleting a CRD deletes every Tenant or Tier of the cluster, so this runs on a platform of its
own (Kubernetes, Postgres, the operator and both APIs), never the session's.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client, config
from psycopg import sql

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KEPT = "tenantry.dev/kept-from"
# tier, deletionPolicy, placement: the policy is not what keeps the data.
TENANTS = {
    "pool": ("free", "Delete", "pool"),
    "bridge": ("pro", "Snapshot", "bridge"),
    "silo": ("enterprise", "Delete", "silo"),
}


@pytest.fixture(scope="module")
def own_platform(request: pytest.FixtureRequest) -> Iterator[stack.Platform]:
    """A platform of this test's own, kept with its logs when a test failed."""
    state = Path(tempfile.mkdtemp(prefix="tenantry-test-crd-"))
    plat = stack.Platform(state, control_plane_env=support.SIGNUP_LIMITS)
    failed = request.session.testsfailed
    try:
        plat.start_infrastructure()
        plat.start_operator()
        plat.start_control_plane()
        plat.start_app_plane()
        yield plat
    finally:
        plat.stop()
        if request.session.testsfailed > failed:
            print(f"\nthe CRD test platform's state and logs are kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)


def manifest(name: str, tier: str, policy: str, **extra: Any) -> dict[str, Any]:
    labels = extra.pop("labels", {})
    return {
        "apiVersion": f"{support.GROUP}/{support.VERSION}",
        "kind": "Tenant",
        "metadata": {"name": name, "labels": labels},
        "spec": {"tier": tier, "deletionPolicy": policy, **extra},
    }


def where(env: dict[str, str], name: str, placement: str) -> tuple[str, str]:
    """The superuser URL of the database holding the tenant's rows, and their schema."""
    snake = name.replace("-", "_")
    base = env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0]
    database = f"tenant_{snake}" if placement == "silo" else env["TENANTRY_POOL_DATABASE"]
    return f"{base}/{database}", f"tenant_{snake}" if placement == "bridge" else "public"


def seed(url: str, schema: str, key: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            sql.SQL("INSERT INTO {} (tenant_key, name) VALUES (%s, 'kept') RETURNING id").format(
                sql.Identifier(schema, "projects")
            ),
            (key,),
        ).fetchone()
        assert found is not None
        for title in ("one", "two"):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (tenant_key, project_id, title) VALUES (%s, %s, %s)"
                ).format(sql.Identifier(schema, "notes")),
                (key, found[0], title),
            )


def notes(url: str, schema: str, key: str) -> int:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE tenant_key = %s").format(
                sql.Identifier(schema, "notes")
            ),
            (key,),
        ).fetchone()
    return int(found[0]) if found else 0


def password(core: client.CoreV1Api, name: str) -> str:
    secret = core.read_namespaced_secret("tenant-db", f"tenant-{name}")
    return base64.b64decode(secret.data["password"]).decode()


def owners(obj: Any) -> set[str]:
    return {ref.uid for ref in obj.metadata.owner_references or []}


def sentinel(core: client.CoreV1Api, tenant: dict[str, Any]) -> None:
    """A ConfigMap the Tenant owns that is none of the operator's: the garbage collector
    deletes it once the Tenant is gone, which shows it ran."""
    meta = tenant["metadata"]
    body = {
        "metadata": {
            "name": "gc-sentinel",
            "ownerReferences": [
                {
                    "apiVersion": tenant["apiVersion"],
                    "kind": "Tenant",
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ],
        }
    }
    core.create_namespaced_config_map(f"tenant-{meta['name']}", body)


def gone(core: client.CoreV1Api, namespace: str) -> bool:
    try:
        core.read_namespaced_config_map("gc-sentinel", namespace)
    except client.ApiException as exc:
        return bool(exc.status == 404)
    return False


def test_deleting_the_crds_keeps_every_tenant_and_reinstalling_serves_it_again(
    own_platform: stack.Platform,
) -> None:
    env = own_platform.env()
    support.remember_maildir(env)
    kube = config.new_client_from_config(config_file=str(own_platform.kubeconfig))
    custom, core = client.CustomObjectsApi(kube), client.CoreV1Api(kube)
    names = {kind: support.unique(f"crd-{kind}") for kind in TENANTS}
    tenant_id = str(uuid.uuid4())  # the bridge Tenant is labelled as a signup's would be
    manifests = {
        kind: manifest(
            names[kind],
            tier,
            policy,
            **({"labels": {"tenantry.dev/tenant-id": tenant_id}} if kind == "bridge" else {}),
        )
        for kind, (tier, policy, _) in TENANTS.items()
    }
    for body in manifests.values():
        custom.create_cluster_custom_object(support.GROUP, support.VERSION, "tenants", body)
    api = httpx.Client(base_url=env["API_URL"] + "/api/v1", timeout=30)
    company = support.unique("Crdsigned")
    signed = support.signup(api, company)  # a tenant of the control plane's own
    signed_id, signed_key = signed["tenant"]["id"], signed["tenant"]["slug"]
    signed_old = support.wait_ready(custom, signed_key, timeout=90)
    signed_secret = password(core, signed_key)

    def registry(tenant: str) -> dict[str, Any]:
        found = api.get(f"/tenants/{tenant}", headers=support.admin(api, env))
        assert found.status_code == 200, found.text
        return dict(found.json())

    old: dict[str, dict[str, Any]] = {}
    secrets: dict[str, str] = {}
    for kind, (_, _, placement) in TENANTS.items():
        name = names[kind]
        old[kind] = support.wait_ready(custom, name, timeout=90)
        assert old[kind]["status"]["placement"] == placement
        seed(*where(env, name, placement), name)
        secrets[kind] = password(core, name)
        sentinel(core, old[kind])

    own_platform.kubectl(
        "delete", "crd", "tenants.tenantry.dev", "tiers.tenantry.dev", "--timeout=90s"
    )
    for kind, (_, _, placement) in TENANTS.items():
        name, namespace = names[kind], f"tenant-{names[kind]}"
        eventually(functools.partial(gone, core, namespace), what=f"{namespace} collected")
        ns = core.read_namespace(namespace)
        assert ns.status.phase == "Active"
        assert not ns.metadata.deletion_timestamp
        assert not owners(ns), "the namespace is no Tenant's any more"
        kept = json.loads(ns.metadata.annotations[KEPT])
        assert (kept["uid"], kept["tenantKey"], kept["placement"]) == (
            old[kind]["metadata"]["uid"],
            name,
            placement,
        )
        assert password(core, name) == secrets[kind], "the Secret is kept"
        assert not owners(core.read_namespaced_secret("tenant-db", namespace))
        assert notes(*where(env, name, placement), name) == 2, "the rows are kept"
        reasons = {e.reason for e in support.events_for(core, name)}
        assert "DataKept" in reasons
        assert "Offboarded" not in reasons
    # The registry keeps the control plane's tenant too: not offboarded, its owner signs in.
    kept_row = eventually(
        lambda: (row := registry(signed_id))["phase"] == "Kept" and row,
        what="the registry's row kept",
    )
    assert kept_row["lifecycle"] == "active"
    assert support.login(api, f"owner@{company.lower()}.example.com")

    own_platform.install_manifests()  # the CRDs and the default Tiers again
    # Re-applied: the pool Tenant as a platform admin names the kept data, the bridge one as
    # the registry re-creates it (its tenant-id), the silo one at first as a stranger would.
    pool, bridge, silo = (manifests[k] for k in ("pool", "bridge", "silo"))
    pool["spec"]["adoptRetainedFrom"] = old["pool"]["metadata"]["uid"]
    for body in (pool, bridge, silo):
        custom.create_cluster_custom_object(support.GROUP, support.VERSION, "tenants", body)

    def refused() -> dict[str, Any] | None:
        found = support.condition(support.get_tenant(custom, names["silo"]), "NamespaceReady")
        return found if found.get("reason") == "AdoptionFailed" else None

    message = eventually(refused, timeout=60, what="the stranger refused")["message"]
    assert old["silo"]["metadata"]["uid"] in message
    silo_ns = core.read_namespace(f"tenant-{names['silo']}")
    assert KEPT in silo_ns.metadata.annotations, "nothing taken over"
    assert not owners(silo_ns)
    support.patch_tenant(custom, names["silo"], adoptRetainedFrom=old["silo"]["metadata"]["uid"])

    for kind, (_, _, placement) in TENANTS.items():
        name, namespace = names[kind], f"tenant-{names[kind]}"
        new = support.wait_ready(custom, name, timeout=90)
        assert new["metadata"]["uid"] != old[kind]["metadata"]["uid"]
        assert new["status"]["placement"] == placement
        ns = core.read_namespace(namespace)
        assert owners(ns) == {new["metadata"]["uid"]}
        assert KEPT not in (ns.metadata.annotations or {})
        assert password(core, name) == secrets[kind], "the kept Secret is the Tenant's again"
        assert notes(*where(env, name, placement), name) == 2

    # The control plane re-created its own Tenant by itself, which took its namespace back.
    signed_new = support.wait_ready(custom, signed_key, timeout=90)
    assert signed_new["metadata"]["uid"] != signed_old["metadata"]["uid"]
    assert signed_new["metadata"]["labels"]["tenantry.dev/tenant-id"] == signed_id
    assert owners(core.read_namespace(f"tenant-{signed_key}")) == {signed_new["metadata"]["uid"]}
    assert password(core, signed_key) == signed_secret
    eventually(lambda: registry(signed_id)["phase"] == "Ready", what="the registry follows")
    api.close()

    # The app plane serves the old rows: the shared app the pool tenant's, the silo's own app
    # the silo tenant's; the bridge tenant's own credentials read its schema.
    with httpx.Client(base_url=env["APP_URL"] + "/api", timeout=30) as app:
        headers = support.token_for(env, names["pool"])
        projects = app.get("/projects", headers=headers).json()
        assert [p["name"] for p in projects] == ["kept"]
    silo_headers = support.minted_token(env, names["silo"])

    def silo_projects() -> list[str] | None:
        for url in support.pod_urls(core, f"tenant-{names['silo']}"):
            answer = httpx.get(f"{url}/api/projects", headers=silo_headers, timeout=10)
            if answer.status_code == 200:
                return [p["name"] for p in answer.json()]
        return None

    assert eventually(silo_projects, timeout=60, what="the silo's app") == ["kept"]
    with psycopg.connect(support.secret_url(core, names["bridge"])) as conn:
        conn.execute("SELECT set_config('tenantry.tenant_key', %s, true)", (names["bridge"],))
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (2,)
