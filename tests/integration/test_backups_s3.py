"""Snapshots and backups in an S3-compatible bucket (TENANTRY_SNAPSHOT_S3_URL): the session's
operator is restarted for this file against a moto S3 server in the test process, then the
default operator (the snapshot directory) is started again. Scheduled backups land in the bucket
with their manifests and the oldest are pruned from it; a live restore from a backup in the bucket
brings its rows back while the app serves; a corrupt object is refused by its checksum; a
Snapshot offboarding writes to the bucket, and spec.restoreFrom restores from it. Nothing goes to
the snapshot directory meanwhile."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest
from kubernetes import client
from moto.server import ThreadedMotoServer

from localplatform import stack
from tests.conftest import eventually
from tests.integration import moving, support
from tests.integration.test_restores import backups_of

pytestmark = pytest.mark.integration
RETAIN, NOTES = 2, 3
BUCKET = "tenantry-it"


@dataclass
class Bucket:
    client: Any
    prefix: str

    def keys(self, start: str) -> set[str]:
        found = self.client.list_objects_v2(Bucket=BUCKET, Prefix=f"{self.prefix}/{start}")
        return {str(o["Key"]).removeprefix(f"{self.prefix}/") for o in found.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return bytes(
            self.client.get_object(Bucket=BUCKET, Key=f"{self.prefix}/{key}")["Body"].read()
        )

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=f"{self.prefix}/{key}", Body=data)


@pytest.fixture(scope="module")
def bucket(platform: stack.Platform) -> Iterator[Bucket]:
    """A moto S3 server with a bucket, and the operator restarted to keep snapshots there."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "tenantry", "AWS_SECRET_ACCESS_KEY": "tenantry-secret"}
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=BUCKET)
    prefix = f"run-{uuid.uuid4().hex[:8]}/snapshots"
    platform.stop_operator()
    try:
        platform.start_operator(
            {
                "TENANTRY_SNAPSHOT_S3_URL": f"s3://{BUCKET}/{prefix}/",
                "TENANTRY_SNAPSHOT_S3_ENDPOINT": endpoint,
                "TENANTRY_SNAPSHOT_S3_REGION": "us-east-1",
                **credentials,
            }
        )
        yield Bucket(s3, prefix)
    finally:
        platform.stop_operator()
        platform.start_operator()
        server.stop()


def notes_of(pool_admin: psycopg.Connection[Any], name: str) -> set[str]:
    rows = pool_admin.execute("SELECT title FROM notes WHERE tenant_key = %s", (name,))
    return {str(r[0]) for r in rows.fetchall()}


def migration_of(custom: client.CustomObjectsApi, name: str) -> dict[str, Any]:
    status = (support.get_tenant(custom, name) or {}).get("status") or {}
    return dict(status.get("migration") or {})


def test_backups_and_snapshots_go_to_the_bucket_and_restore_from_it(
    bucket: Bucket,
    custom: client.CustomObjectsApi,
    app: httpx.Client,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    often, hourly = support.unique("s3often"), support.unique("s3hourly")
    support.make_tier(custom, often, backup={"schedule": "2s", "retain": RETAIN})
    support.make_tier(custom, hourly, backup={"schedule": "1h", "retain": RETAIN})
    kept, live = support.unique("s3kept"), support.unique("s3live")
    restored = support.unique("s3restored")
    support.create_tenant(custom, kept, tier=often, deletionPolicy="Snapshot")
    support.create_tenant(custom, live, tier="free")
    uid = support.wait_ready(custom, kept, timeout=60)["metadata"]["uid"]
    support.wait_ready(custom, live, timeout=60)
    headers = support.token_for(env, live)
    project = app.post("/projects", json={"name": "kept"}, headers=headers).json()["id"]
    for number in range(NOTES):
        made = app.post(f"/projects/{project}/notes", json={"title": f"b{number}"}, headers=headers)
        assert made.status_code == 201, made.text
    support.patch_tenant(custom, live, tier=hourly)  # its backup of this hour is taken now
    try:
        # Scheduled backups land in the bucket, manifest and all, and the oldest are pruned.
        seen: set[str] = set()

        def pruned() -> list[dict[str, Any]] | None:
            backups = backups_of(custom, kept)
            seen.update(b["name"] for b in backups)
            return backups if len(seen) > RETAIN and len(backups) == RETAIN else None

        backups = eventually(pruned, timeout=60, what="backups taken and pruned")
        stored = bucket.keys(f"{kept}-")
        names = {b["name"] for b in backups}
        assert names <= stored
        assert {n.removesuffix(".dump") + ".json" for n in names} <= stored
        assert seen - stored, "the oldest backups were pruned from the bucket"
        assert len([k for k in stored if k.endswith(".dump")]) <= RETAIN + 1
        newest = backups[-1]["name"]
        manifest = json.loads(bucket.read(newest.removesuffix(".dump") + ".json"))
        assert manifest["uid"] == uid
        assert manifest["backup"]["every"] == 2
        assert manifest["sha256"] == hashlib.sha256(bucket.read(newest)).hexdigest()
        assert backups[-1]["sizeBytes"] == len(bucket.read(newest)) > 0

        # A live restore from the bucket while the app serves: the backup's rows are back.
        backup = eventually(lambda: backups_of(custom, live), timeout=60, what="live's backup")
        chosen = backup[-1]["name"]
        assert backup[-1]["rows"] == 1 + NOTES
        traffic = moving.Writer(app, headers, project, read_back=False)
        traffic.start()
        traffic.writes_flow(5)
        assert traffic.errors == []
        support.patch_tenant(custom, live, restore={"backup": chosen, "requested": "one"})

        def ended() -> dict[str, Any] | None:
            moves = ((support.get_tenant(custom, live) or {}).get("status") or {}).get("moves")
            done = [m for m in moves or [] if m.get("backup") == chosen]
            return done[-1] if done else None

        move = eventually(ended, timeout=90, what="the restore from the bucket")
        assert move["result"] == "Completed", move
        traffic.writes_flow(5)
        traffic.finish()
        assert traffic.errors == []
        assert {f"b{n}" for n in range(NOTES)} <= notes_of(pool_admin, live)
        assert not notes_of(pool_admin, live) & {f"live{n}" for n in range(1, 6)}

        # A corrupt object in the bucket is refused by its checksum.
        bucket.write(chosen, bucket.read(chosen) + b"tampered")
        support.patch_tenant(custom, live, restore={"backup": chosen, "requested": "two"})
        eventually(
            lambda: migration_of(custom, live).get("reason") == "BackupCorrupt",
            what="a corrupt backup refused",
        )

        # A Snapshot offboarding writes to the bucket; restoreFrom reads it back.
        made = app.post("/projects", json={"name": "saved"}, headers=support.token_for(env, kept))
        assert made.status_code == 201, made.text
        support.delete_tenant(custom, kept)
        snapshot = f"{kept}-{uid[:8]}.dump"
        assert {snapshot, snapshot.removesuffix(".dump") + ".json"} <= bucket.keys(snapshot[:-5])
        support.restore_tenant(custom, restored, snapshot)
        ready = support.wait_ready(custom, restored, timeout=60)
        assert ready["status"]["restoredFrom"] == snapshot
        listed = app.get("/projects", headers=support.token_for(env, restored)).json()
        assert [p["name"] for p in listed] == ["saved"]
        assert not list(Path(env["TENANTRY_SNAPSHOT_DIR"]).glob(f"{kept}-*"))  # all in S3
    finally:
        for name in (kept, live, restored):
            if support.get_tenant(custom, name) is not None:
                support.delete_tenant(custom, name)
        for tier in (often, hourly):
            custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tiers", tier)
