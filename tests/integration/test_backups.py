"""Scheduled backups by Tier: every placement is backed up on the Tier's interval into the
snapshot directory (archive + manifest with the tenant's uid and placement), the oldest beyond
`retain` are pruned, and `status.lastBackup` and the per-tenant metric show the newest. A
schedule that is no interval is refused when the Tier is written. A platform admin lists a
tenant's backups through the API and `tenantry backups`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support
from tests.integration.test_operator_metrics import own, scrape
from tests.integration.test_placement_moves import cli

pytestmark = pytest.mark.integration
RETAIN = 2


def test_a_tier_schedule_that_is_no_interval_is_refused(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(client.ApiException) as refused:
        support.make_tier(
            custom, support.unique("badbackup"), backup={"schedule": "0 3 * * *", "retain": 3}
        )
    assert refused.value.status == 422
    assert "spec.backup.schedule" in str(refused.value.body)


def test_every_placement_is_backed_up_on_schedule_and_pruned(
    platform: stack.Platform,
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
) -> None:
    tier = support.unique("backedup")
    support.make_tier(custom, tier, backup={"schedule": "2s", "retain": RETAIN})
    names = {
        isolation: support.unique(f"bk{isolation}") for isolation in ("pool", "bridge", "silo")
    }
    for isolation, name in names.items():
        support.create_tenant(custom, name, tier=tier, placement={"isolation": isolation})
    uids = {
        name: support.wait_ready(custom, name, timeout=60)["metadata"]["uid"]
        for name in names.values()
    }
    pooled = names["pool"]
    for title in ("one", "two", "three"):
        made = app.post("/projects", json={"name": title}, headers=support.token_for(env, pooled))
        assert made.status_code == 201, made.text
    snapshots = Path(env["TENANTRY_SNAPSHOT_DIR"])

    try:
        seen: dict[str, set[str]] = {name: set() for name in names.values()}

        def pruned_after_several() -> dict[str, dict[str, Any]] | None:
            """Each tenant's status once more than `retain` backups were taken and the
            oldest pruned (and the pool tenant's newest has its three rows)."""
            found = {}
            for name in names.values():
                status = (support.get_tenant(custom, name) or {}).get("status") or {}
                kept = status.get("backups") or []
                seen[name] |= {b["name"] for b in kept}
                if len(seen[name]) <= RETAIN or len(kept) != RETAIN:
                    return None
                found[name] = status
            return found if found[pooled]["lastBackup"]["rows"] == 3 else None

        statuses = eventually(pruned_after_several, timeout=60, what="backups taken and pruned")
        for isolation, name in names.items():
            status = statuses[name]
            kept = status["backups"]
            assert status["lastBackup"] == kept[-1]
            assert [b["name"] for b in kept] == sorted(b["name"] for b in kept)  # newest last
            on_disk = sorted(p.name for p in snapshots.glob(f"{name}-*-backup-*.dump"))
            assert set(on_disk) >= {b["name"] for b in kept}
            assert len(on_disk) <= RETAIN + 1  # one more may have been taken since
            assert seen[name] - set(on_disk), "the oldest backups were pruned"
            manifest = json.loads((snapshots / kept[-1]["name"]).with_suffix(".json").read_text())
            assert manifest["uid"] == uids[name]
            assert manifest["placement"] == isolation
            assert manifest["backup"]["every"] == 2
            assert kept[-1]["sizeBytes"] == (snapshots / kept[-1]["name"]).stat().st_size > 0
        assert statuses[pooled]["lastBackup"]["rows"] == 3

        def metered() -> float | None:
            samples = scrape(platform)
            return own(samples, "tenantry_tenant_last_backup_timestamp_seconds", pooled)

        when = eventually(metered, what="the last-backup metric")
        assert abs(when - dt.datetime.now(dt.UTC).timestamp()) < 30
        interval = own(scrape(platform), "tenantry_tenant_backup_interval_seconds", pooled)
        assert interval == 2
    finally:
        for name in names.values():
            support.delete_tenant(custom, name)
        custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tiers", tier)


def test_a_platform_admin_lists_a_tenants_backups(
    api: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> None:
    tier = support.unique("listed")
    support.make_tier(custom, tier, backup={"schedule": "2s", "retain": RETAIN})
    body = support.signup(api, support.unique("Backed"))
    support.set_tier(api, env, body["tenant"]["id"], tier)
    name, listing = body["tenant"]["slug"], f"/tenants/{body['tenant']['id']}/backups"
    admin = support.admin(api, env)
    try:

        def listed() -> list[dict[str, Any]] | None:
            found = api.get(listing, headers=admin)
            assert found.status_code == 200, found.text
            items = list(found.json()["items"])
            return items if len(items) == RETAIN else None

        items = eventually(listed, timeout=60, what="the tenant's backups listed")
        assert [b["name"] for b in items] == sorted(b["name"] for b in items)
        assert all(b["name"].startswith(f"{name}-") and b["size_bytes"] > 0 for b in items)
        assert all(b["rows"] >= 0 and b["time"] for b in items)
        # A day between backups from now on, so the CLI and the API see the same ones.
        custom.patch_cluster_custom_object(
            support.GROUP,
            support.VERSION,
            "tiers",
            tier,
            {"spec": {"backup": {"schedule": "1d", "retain": RETAIN}}},
        )

        def agreed() -> list[dict[str, Any]] | None:
            shown = cli(env, "backups", name)
            names = {b["name"] for b in listed() or []}
            return shown if names and {b["name"] for b in shown} == names else None

        eventually(agreed, timeout=60, what="the CLI listing what the API lists")

        owner = api.get(listing, headers=support.auth(body))  # a tenant admin, not a platform one
        assert owner.status_code == 403, owner.text
        assert owner.headers["content-type"].startswith("application/problem+json")
        missing = api.get(f"/tenants/{uuid.uuid4()}/backups", headers=admin)
        assert missing.status_code == 404, missing.text
    finally:
        support.delete_tenant(custom, name)
        custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tiers", tier)
