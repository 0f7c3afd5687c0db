"""Retained data is bound to the uid of the Tenant it belonged to: a new Tenant of the same name
starts empty and cannot log in as the old role; spec.adoptRetainedFrom takes the data over."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def delete_and_wait(custom: client.CustomObjectsApi, name: str) -> None:
    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", name)
    eventually(
        lambda: support.get_tenant(custom, name) is None, timeout=60, what=f"Tenant {name} gone"
    )


def retained_where(pool: psycopg.Connection[Any], tier: str, kept: str) -> bool:
    """Whether the data retained under `kept` is where its placement keeps it."""
    query = {
        "free": "SELECT 1 FROM projects WHERE tenant_key = %s",
        "pro": "SELECT 1 FROM pg_namespace WHERE nspname = %s",
        "enterprise": "SELECT 1 FROM pg_database WHERE datname = %s",
    }[tier]
    return pool.execute(query, (kept,)).fetchone() is not None


def projects(app: httpx.Client, env: dict[str, str], name: str) -> list[str]:
    listed = app.get("/projects", headers=support.token_for(env, name))
    assert listed.status_code == 200, listed.text
    return sorted(p["name"] for p in listed.json())


@pytest.mark.parametrize("tier", ["free", "pro", "enterprise"])
def test_recreated_name_starts_empty_and_adoption_takes_the_data_back(
    tier: str,
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = support.unique(f"keep-{tier}")
    uid = support.create_tenant(custom, name, tier=tier)["metadata"]["uid"]
    support.wait_ready(custom, name, timeout=90)
    made = app.post("/projects", json={"name": "old"}, headers=support.token_for(env, name))
    assert made.status_code == 201, made.text
    old_url = support.secret_url(core, name)

    delete_and_wait(custom, name)
    kept = "retained_" + uid.replace("-", "")
    assert retained_where(pool_admin, tier, kept)
    offboarded = [e.message for e in support.events_for(core, name) if e.reason == "Offboarded"]
    assert any(kept in message for message in offboarded)
    assert (
        pool_admin.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", ("tnt_" + name.replace("-", "_"),)
        ).fetchone()
        is None
    )

    # The same name again: empty, with a password of its own (the old Secret, even while its
    # namespace is still terminating, is never read back).
    support.create_tenant(custom, name, tier=tier)
    support.wait_ready(custom, name, timeout=90)
    assert projects(app, env, name) == []
    assert support.secret_url(core, name) != old_url

    # Another Tenant adopts the retained data explicitly.
    heir = support.unique(f"heir-{tier}")
    support.create_tenant(custom, heir, tier=tier, adoptRetainedFrom=uid)
    support.wait_ready(custom, heir, timeout=90)
    assert projects(app, env, heir) == ["old"]
    assert projects(app, env, name) == []
    assert not retained_where(pool_admin, tier, kept)
    for tenant in (name, heir):
        delete_and_wait(custom, tenant)


def test_adoption_into_another_placement_is_refused(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
) -> None:
    name = support.unique("keep-moved")
    uid = support.create_tenant(custom, name, tier="free")["metadata"]["uid"]
    support.wait_ready(custom, name)
    made = app.post("/projects", json={"name": "old"}, headers=support.token_for(env, name))
    assert made.status_code == 201, made.text
    delete_and_wait(custom, name)

    heir = support.unique("heir-moved")
    support.create_tenant(custom, heir, tier="pro", adoptRetainedFrom=uid)
    refused = eventually(
        lambda: (
            (c := support.condition(support.get_tenant(custom, heir), "DatabaseReady"))
            and c.get("reason") == "AdoptionFailed"
            and c
        ),
        what="adoption refused",
    )
    assert refused["status"] == "False"
    assert "pool placement" in refused["message"]
    warnings = [e for e in support.events_for(core, heir) if e.type == "Warning"]
    assert warnings
    support.delete_tenant(custom, heir)
