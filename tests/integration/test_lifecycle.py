"""Suspension of pooled tenants, snapshots and restores across placements, schema migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from app_plane import migrate
from localplatform import stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_suspended_pool_tenant_rows_are_refused_by_policy(
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
) -> None:
    name = support.unique("pooled")
    support.create_tenant(custom, name, tier="free")
    support.wait_ready(custom, name)
    headers = support.token_for(env, name)
    assert app.post("/projects", json={"name": "p"}, headers=headers).status_code == 201

    support.patch_tenant(custom, name, suspended=True)
    support.wait_phase(custom, name, "Suspended")
    assert app.get("/projects", headers=headers).status_code == 503
    with psycopg.connect(env["TENANTRY_APP_DATABASE_URL"]) as conn:
        conn.execute("SELECT set_config('tenantry.tenant_key', %s, true)", (name,))
        assert conn.execute("SELECT count(*) FROM projects").fetchone() == (0,)

    support.patch_tenant(custom, name, suspended=False)
    support.wait_phase(custom, name, "Ready")
    assert [p["name"] for p in app.get("/projects", headers=headers).json()] == ["p"]


@pytest.mark.parametrize(
    ("source_tier", "target_tier"), [("free", "enterprise"), ("enterprise", "pro")]
)
def test_snapshot_then_restore_into_another_placement(
    source_tier: str,
    target_tier: str,
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
    platform: stack.Platform,
) -> None:
    source = support.unique("snap")
    support.create_tenant(custom, source, tier=source_tier, deletionPolicy="Snapshot")
    support.wait_ready(custom, source)
    headers = support.token_for(env, source)
    project = app.post("/projects", json={"name": "saved"}, headers=headers).json()
    for title in ("one", "two"):
        app.post(f"/projects/{project['id']}/notes", json={"title": title}, headers=headers)
    uid = support.get_tenant(custom, source)["metadata"]["uid"]  # type: ignore[index]

    support.delete_tenant(custom, source)
    snapshots = Path(env["TENANTRY_SNAPSHOT_DIR"])
    dump = snapshots / f"{source}-{uid[:8]}.dump"
    assert dump.is_file()
    manifest = json.loads(dump.with_suffix(".json").read_text())
    assert manifest["rows"] == {"notes": 2, "projects": 1}
    assert manifest["placement"] == ("silo" if source_tier == "enterprise" else "pool")

    target = support.unique("restored")
    # Another Tenant's snapshot: a platform admin allows it with the annotation.
    support.restore_tenant(custom, target, dump.name, tier=target_tier)
    resource = support.wait_ready(custom, target)
    assert resource["status"]["restoredFrom"] == dump.name
    restored = support.token_for(env, target)
    (saved,) = app.get("/projects", headers=restored).json()
    assert (saved["id"], saved["name"]) == (project["id"], "saved")
    notes = app.get(f"/projects/{saved['id']}/notes", headers=restored).json()
    assert sorted(n["title"] for n in notes) == ["one", "two"]
    assert (
        platform.kubectl(
            "get", "events", "--field-selector", f"involvedObject.name={source}"
        ).returncode
        == 0
    )


def test_restore_from_a_missing_snapshot_fails_with_a_reason(
    custom: client.CustomObjectsApi,
) -> None:
    name = support.unique("norestore")
    support.create_tenant(custom, name, tier="free", restoreFrom="nothing-here.dump")
    failed = eventually(
        lambda: (
            (c := support.condition(support.get_tenant(custom, name)))
            and c.get("reason") == "RestoreFailed"
            and c
        ),
        what="RestoreFailed",
    )
    assert "nothing-here.dump" in failed["message"]


def test_migrate_command_reports_progress_and_failures(
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    healthy, broken = support.unique("mig"), support.unique("mig")
    for name in (healthy, broken):
        support.create_tenant(custom, name, tier="pro")
        support.wait_ready(custom, name)
    # Forget the revision of one schema: migrating it again collides with its tables.
    pool_admin.execute(f'DELETE FROM "tenant_{broken.replace("-", "_")}".alembic_version')
    pool_url = env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0] + "/tenantry_pool"

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app_plane.migrate", "--pool-url", pool_url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = run()
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(healthy in line and f"already at {migrate.head()}" in line for line in lines)
    assert any(broken in line and "FAILED" in line for line in lines)
    assert f"  failed: {broken}: " in done.stdout
    assert any(line.endswith(" already current, 1 failed") for line in lines)

    # Give it back its first revision: the re-run then carries it on to the head.
    pool_admin.execute(
        f"INSERT INTO \"tenant_{broken.replace('-', '_')}\".alembic_version VALUES ('0001')"
    )
    again = run()
    assert again.returncode == 0, again.stdout
    assert again.stdout.splitlines()[-1].endswith(" already current, 0 failed")
