"""spec.restoreFrom loads only a snapshot of the same Tenant (the manifest records its uid),
unless a platform admin sets the annotation tenantry.dev/restore-from-any: "true"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tenantry_core import resources
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_restore_of_another_tenants_snapshot_is_refused_unless_allowed(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    source = support.unique("snapped")
    uid = support.create_tenant(custom, source, tier="free", deletionPolicy="Snapshot")["metadata"][
        "uid"
    ]
    support.wait_ready(custom, source)
    made = app.post("/projects", json={"name": "theirs"}, headers=support.token_for(env, source))
    assert made.status_code == 201, made.text
    support.delete_tenant(custom, source)
    dump = Path(env["TENANTRY_SNAPSHOT_DIR"]) / f"{source}-{uid[:8]}.dump"
    assert json.loads(dump.with_suffix(".json").read_text())["uid"] == uid

    # Another Tenant names it: refused, with a Warning, and nothing is loaded.
    thief = support.unique("thief")
    support.create_tenant(custom, thief, tier="free", restoreFrom=dump.name)
    refused = eventually(
        lambda: (
            (c := support.condition(support.get_tenant(custom, thief), "DatabaseReady"))
            and c.get("reason") == "RestoreRefused"
            and c
        ),
        what="restore refused",
    )
    assert refused["status"] == "False"
    assert resources.ANNOTATION_RESTORE_FROM_ANY in refused["message"]
    warnings = [e for e in support.events_for(core, thief) if e.type == "Warning"]
    assert any(e.reason == "RestoreRefused" for e in warnings)
    assert pool_admin.execute(
        "SELECT count(*) FROM projects WHERE tenant_key = %s", (thief,)
    ).fetchone() == (0,)

    # A platform admin allows it explicitly.
    allowed = support.unique("allowed")
    support.restore_tenant(custom, allowed, dump.name)
    assert support.wait_ready(custom, allowed)["status"]["restoredFrom"] == dump.name
    listed = app.get("/projects", headers=support.token_for(env, allowed)).json()
    assert [p["name"] for p in listed] == ["theirs"]
