"""A live restore to a chosen backup (`tenantry restore`, `POST /tenants/{id}/restores`): while
a writer and a reader use the tenant through the app plane, the backup is loaded beside its
data and swapped in under the fence. The app answers every request, every row of the backup is
back, and the writes made after the backup (before the restore) are gone. Another tenant's
backup is refused, by the API and by the operator (the manifest's uid), and so is a corrupt
one (its checksum)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import moving, support
from tests.integration.test_placement_moves import cli

pytestmark = pytest.mark.integration
NOTES = 5


def backups_of(custom: client.CustomObjectsApi, name: str) -> list[dict[str, Any]]:
    return list(((support.get_tenant(custom, name) or {}).get("status") or {}).get("backups") or [])


def test_a_live_restore_brings_the_backup_back_while_the_app_serves(
    api: httpx.Client,
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    pool_admin: psycopg.Connection[Any],
) -> None:
    tier = support.unique("restorable")
    support.make_tier(custom, tier, backup={"schedule": "1h", "retain": 3})
    body = support.signup(api, support.unique("Restored"))
    name, tenant_id = body["tenant"]["slug"], body["tenant"]["id"]
    other = support.unique("otherbk")
    support.create_tenant(custom, other, tier=tier)
    support.wait_ready(custom, name)
    headers = support.auth(body)
    project = app.post("/projects", json={"name": "kept"}, headers=headers).json()["id"]
    for number in range(NOTES):
        made = app.post(f"/projects/{project}/notes", json={"title": f"b{number}"}, headers=headers)
        assert made.status_code == 201, made.text
    support.set_tier(api, env, tenant_id, tier)  # its backup of this hour is taken now
    admin = support.admin(api, env)
    try:
        listed = eventually(
            lambda: api.get(f"/tenants/{tenant_id}/backups", headers=admin).json()["items"],
            timeout=60,
            what="the tenant's backup",
        )
        backup = listed[-1]
        assert backup["rows"] == 1 + NOTES
        theirs = eventually(lambda: backups_of(custom, other), timeout=60, what="other's backup")

        # Another tenant's backup: refused by the API ...
        refused = api.post(
            f"/tenants/{tenant_id}/restores", headers=admin, json={"backup": theirs[-1]["name"]}
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["errors"][0]["msg"] == "not a backup of this tenant"
        # ... and by the operator, when a Tenant's spec names it.
        support.patch_tenant(custom, other, restore={"backup": backup["name"], "requested": "one"})
        failed = eventually(
            lambda: (
                (m := (support.get_tenant(custom, other) or {}).get("status", {}).get("migration"))
                and m.get("phase") == "Failed"
                and m
            ),
            what="the other tenant's restore refused",
        )
        assert failed["reason"] == "RestoreRefused"
        assert failed["backup"] == backup["name"]
        # A backup whose archive no longer matches its manifest's checksum: refused too.
        corrupt = Path(env["TENANTRY_SNAPSHOT_DIR"]) / theirs[-1]["name"]
        with corrupt.open("ab") as archive:
            archive.write(b"tampered")
        support.patch_tenant(
            custom, other, restore={"backup": theirs[-1]["name"], "requested": "two"}
        )
        eventually(
            lambda: (
                (
                    (support.get_tenant(custom, other) or {}).get("status", {}).get("migration", {})
                ).get("reason")
                == "BackupCorrupt"
            ),
            what="a corrupt backup refused",
        )

        traffic = moving.Writer(app, headers, project, read_back=False)
        traffic.start()
        traffic.writes_flow(10)
        assert traffic.errors == []
        lost_by_design = list(traffic.acked)  # written after the backup, before the restore
        done = cli(env, "restore", name, backup["name"])
        assert done["result"] == "Completed", done
        traffic.writes_flow(10)  # the app serves the restored data
        traffic.finish()
        assert traffic.errors == []

        titles = {
            str(r[0])
            for r in pool_admin.execute(
                "SELECT title FROM notes WHERE tenant_key = %s", (name,)
            ).fetchall()
        }
        assert {f"b{n}" for n in range(NOTES)} <= titles  # 0 rows of the backup lost
        ids = {
            str(r[0])
            for r in pool_admin.execute(
                "SELECT id FROM notes WHERE tenant_key = %s", (name,)
            ).fetchall()
        }
        assert not ids & set(lost_by_design)
        status = (support.get_tenant(custom, name) or {})["status"]
        assert status["moves"][-1]["backup"] == backup["name"]
        assert status["moves"][-1]["result"] == "Completed"
        leftover = pool_admin.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE %s",
            ("tenantry_restore_%" + name.replace("-", "_"),),
        ).fetchone()
        assert leftover == (0,)
        history = api.get(f"/tenants/{tenant_id}/restores", headers=admin).json()
        assert [h["backup"] for h in history["history"]] == [backup["name"]]
    finally:
        for tenant in (other, name):
            support.delete_tenant(custom, tenant)
        custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tiers", tier)
