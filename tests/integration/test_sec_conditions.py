"""Conditions are read by tenants: they name no database host or port and carry no raw error
of a database or its tools (those go to the operator's log)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def messages(tenant: dict[str, Any]) -> list[str]:
    return [str(c.get("message", "")) for c in tenant["status"]["conditions"]]


def test_a_silo_tenants_conditions_name_no_host_or_port(custom: client.CustomObjectsApi) -> None:
    name = support.unique("quiet")
    support.create_tenant(custom, name, tier="enterprise")
    tenant = support.wait_ready(custom, name, timeout=90)
    database = tenant["status"]["database"]  # for admins, on purpose
    for message in messages(tenant):
        assert database["host"] not in message
        assert str(database["port"]) not in message
    support.delete_tenant(custom, name)


def test_a_failed_restore_says_so_without_the_tools_words(
    custom: client.CustomObjectsApi, env: dict[str, str]
) -> None:
    snapshots = Path(env["TENANTRY_SNAPSHOT_DIR"])
    snapshots.mkdir(parents=True, exist_ok=True)
    broken = f"broken-{uuid.uuid4().hex[:8]}"
    (snapshots / f"{broken}.dump").write_bytes(b"not an archive")
    manifest = {"uid": "", "staging_schema": "tenantry_snap_broken", "file": f"{broken}.dump"}
    (snapshots / f"{broken}.json").write_text(json.dumps(manifest))

    name = support.unique("broken")
    support.restore_tenant(custom, name, f"{broken}.dump")
    failed = eventually(
        lambda: (
            (c := support.condition(support.get_tenant(custom, name), "DatabaseReady"))
            and c.get("reason") == "RestoreFailed"
            and c
        ),
        what="restore failed",
    )
    assert failed["message"] == (
        f"restore from {broken}.dump failed; the operator's log has the details"
    )
    support.delete_tenant(custom, name)


def test_a_migrations_status_names_no_host_port_or_raw_detail(
    custom: client.CustomObjectsApi,
) -> None:
    name = support.unique("quietmove")
    support.create_tenant(custom, name, tier="free")
    start = support.wait_ready(custom, name)
    seen: list[str] = []
    stream = watch.Watch()
    support.patch_tenant(custom, name, tier="enterprise")
    for event in stream.stream(
        custom.list_cluster_custom_object,
        support.GROUP,
        support.VERSION,
        "tenants",
        field_selector=f"metadata.name={name}",
        resource_version=start["metadata"]["resourceVersion"],
        timeout_seconds=90,
    ):
        status = event["object"].get("status") or {}
        migration = status.get("migration") or {}
        seen += [str(migration.get("message", "")), *messages(event["object"])]
        if migration.get("phase") == "Completed" and status.get("phase") == "Ready":
            stream.stop()
    done = support.get_tenant(custom, name)
    assert done is not None
    assert done["status"]["migration"]["phase"] == "Completed"
    database = done["status"]["database"]
    assert database["host"]
    assert database["port"]
    leaks = [m for m in seen if database["host"] in m or str(database["port"]) in m]
    assert leaks == []
    support.delete_tenant(custom, name)
