"""Several Tenants restoring one snapshot into the pool at once each load it whole, at the first
try: they take turns on the snapshot's staging schema instead of sharing it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from kubernetes import client

from tests.integration import support

pytestmark = pytest.mark.integration


def test_concurrent_restores_of_one_snapshot(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    app: httpx.Client,
    env: dict[str, str],
) -> None:
    source = support.unique("shared")
    uid = support.create_tenant(custom, source, tier="free", deletionPolicy="Snapshot")["metadata"][
        "uid"
    ]
    support.wait_ready(custom, source)
    headers = support.token_for(env, source)
    for n in range(20):
        made = app.post("/projects", json={"name": f"p{n}"}, headers=headers)
        assert made.status_code == 201, made.text
    support.delete_tenant(custom, source)
    dump = Path(env["TENANTRY_SNAPSHOT_DIR"]) / f"{source}-{uid[:8]}.dump"

    copies = [support.unique("copy") for _ in range(4)]
    for name in copies:
        support.restore_tenant(custom, name, dump.name)
    for name in copies:
        support.wait_ready(custom, name, timeout=60)
        listed = app.get("/projects", headers=support.token_for(env, name)).json()
        assert len(listed) == 20
        failed = [e for e in support.events_for(core, name) if e.reason == "RestoreFailed"]
        assert failed == []
