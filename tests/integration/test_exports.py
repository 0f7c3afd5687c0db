"""Exports as background jobs: streamed in bounded memory, verified by their manifest, downloaded
by a signed, expiring link of one tenant, the requester mailed once; a job cut off by a dead
replica is started again."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from app_plane import archive
from localplatform import mailsink, services, stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration

NOTES = 100_000
BODY = "x" * 300  # about 40 MB of JSON Lines: holding it all would show in the peak RSS
MAX_PEAK_GROWTH = 40 * 2**20


def _exporting_tenant(
    api: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi, name: str
) -> dict[str, Any]:
    """A free tenant, Ready, granted the `export` feature."""
    body = support.signup(api, support.unique(name))
    support.wait_ready(custom, body["tenant"]["slug"])
    support.grant(api, env, body["tenant"]["id"], "export")
    return body


def _start(app: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """POST /exports once the granted feature reached the app plane."""

    def granted() -> httpx.Response | None:
        answer = app.post("/exports", headers=support.auth(body))
        return None if answer.status_code == 403 else answer

    started = eventually(granted, what="export feature granted")
    assert started.status_code == 202, started.text
    job: dict[str, Any] = started.json()
    assert job["state"] == "queued"
    assert started.headers["Location"].endswith(job["id"])
    return job


def _done(app: httpx.Client, body: dict[str, Any], export_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        answer = app.get(f"/exports/{export_id}", headers=support.auth(body))
        if answer.status_code == 403:  # the `export` grant has not reached the app plane yet
            return None
        seen: dict[str, Any] = answer.json()
        assert seen["state"] != "failed", seen
        return seen if seen["state"] == "done" else None

    return eventually(finished, timeout=120, what=f"export {export_id} done")


def _memory(pid: int) -> dict[str, int]:
    """The process's current and peak resident set, in bytes."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}


def test_an_export_of_100k_rows_streams_verifies_downloads_by_link_and_mails_once(
    api: httpx.Client,
    app: httpx.Client,
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    platform: stack.Platform,
    pool_admin: psycopg.Connection[Any],
    control_db: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    other = support.signup(api, support.unique("Bystander"))
    support.wait_ready(custom, other["tenant"]["slug"])
    refused = app.post("/exports", headers=support.auth(other))
    assert refused.status_code == 403
    assert refused.json()["feature"] == "export"
    support.grant(api, env, other["tenant"]["id"], "export")
    body = _exporting_tenant(api, env, custom, "Exporter")
    key, other_key = body["tenant"]["slug"], other["tenant"]["slug"]
    project = app.post("/projects", json={"name": "big"}, headers=support.auth(body)).json()
    pool_admin.execute(
        "INSERT INTO notes (tenant_key, project_id, title, body) "
        "SELECT %s, %s, 'note ' || g, %s FROM generate_series(1, %s) g",
        (key, project["id"], BODY, NOTES),
    )

    pid = platform.processes[services.APP_PLANE].popen.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    before = _memory(pid)["VmRSS"]
    job = _start(app, body)
    done = _done(app, body, job["id"])
    growth = _memory(pid)["VmHWM"] - before
    assert growth < MAX_PEAK_GROWTH, f"the app's peak RSS grew by {growth / 2**20:.0f} MiB"
    assert (done["tables_done"], done["tables_total"], done["rows_done"]) == (2, 2, NOTES + 1)

    fetched = httpx.get(done["download_url"], timeout=60)  # no token: the link is the credential
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"] == "application/zip"
    saved = tmp_path / "export.zip"
    saved.write_bytes(fetched.content)
    manifest = archive.check(saved)
    assert manifest == done["manifest"]
    assert (manifest["format_version"], manifest["tenant_key"]) == (1, key)
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == {"projects": 1, "notes": NOTES}

    # Another tenant: not its export, and the link opens nothing of another tenant.
    assert app.get(f"/exports/{job['id']}", headers=support.auth(other)).status_code == 404
    link = httpx.URL(done["download_url"])
    for changed in ({"tenant": other_key}, {"expires": str(int(time.time()) + 7200)}):
        assert httpx.get(link.copy_merge_params(changed)).status_code == 403
    theirs = _done(app, other, _start(app, other)["id"])
    stolen = httpx.URL(theirs["download_url"]).copy_with(params=link.params)
    assert httpx.get(stolen).status_code == 403
    expired = archive.sign(
        env["TENANTRY_EXPORT_LINK_SECRET"],
        export_id=job["id"],
        tenant_key=key,
        expires=int(time.time()) - 1,
    )
    late = httpx.get(link.copy_with(params=expired))
    assert late.status_code == 403
    assert "expired" in late.json()["detail"]

    # The requester is told once, by the control plane's outbox.
    email = support.owner_email(body)

    def ready_mails() -> list[Any] | None:
        found = [
            m
            for m in mailsink.messages(Path(env["TENANTRY_MAILDIR"]), to=email)
            if "export" in str(m["Subject"])
        ]
        return found or None

    (mail,) = eventually(ready_mails, timeout=60, what="export ready mail")
    assert job["id"] in mailsink.text(mail)
    told = "SELECT notified_at FROM tenantry.exports WHERE id = %s"
    eventually(
        lambda: (pool_admin.execute(told, (job["id"],)).fetchone() or [None])[0],
        what="export marked told",
    )
    queued = control_db.execute(
        "SELECT count(*) FROM outbox WHERE payload->'params'->>'export_id' = %s", (job["id"],)
    ).fetchone()
    assert queued == (1,)


def test_a_job_whose_worker_died_is_started_again_and_finishes(
    api: httpx.Client,
    app: httpx.Client,
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    body = _exporting_tenant(api, env, custom, "Resumed")
    app.post("/projects", json={"name": "kept"}, headers=support.auth(body))
    # What a replica killed mid-export leaves: a running job with a lapsed lease, half a file.
    (export_id,) = pool_admin.execute(  # type: ignore[misc]
        "INSERT INTO tenantry.exports (tenant_id, tenant_key, requested_by, requested_kind, "
        "state, attempts, lease_until, rows_done) VALUES (%s, %s, %s, 'api_key', 'running', 1, "
        "now() - interval '1 second', 7) RETURNING id::text",
        (body["tenant"]["id"], body["tenant"]["slug"], str(uuid.uuid4())),
    ).fetchone()
    partial = Path(env["TENANTRY_EXPORT_DIR"]) / f"{export_id}.zip.partial"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"half an archive")

    done = _done(app, body, export_id)
    assert done["rows_done"] == 1
    assert not partial.exists()
    saved = Path(env["TENANTRY_EXPORT_DIR"]) / f"{export_id}.zip"
    assert {t["name"]: t["rows"] for t in archive.check(saved)["tables"]} == {
        "projects": 1,
        "notes": 0,
    }
    attempts = pool_admin.execute(
        "SELECT attempts FROM tenantry.exports WHERE id = %s", (export_id,)
    ).fetchone()
    assert attempts == (2,)
