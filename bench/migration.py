"""Live pool → silo migration under load, against moving the same tenant offline.

A tenant with `rows` rows shares the pool with neighbours; a writer sends a steady stream of
writes through the app plane while the operator migrates it live. Reported: the latency of the
writes issued during the migration (p99 and max: how long the fence made them wait), errors and
lost writes (acknowledged but absent afterwards), and the operator's fence time against the
baseline, in the same run: an identical tenant moved offline (pg_dump of its rows, a new
database, restore), whose duration is how long that tenant could not write.
Run by `bench.suite`; targets: write p99 at most 250 ms, max at most 1 s, no errors, none lost.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from kubernetes import client
from tenantry_operator import databases, model, planning, provisioner, snapshots
from tenantry_operator import settings as operator_settings

from bench import appplane, cluster, report
from localplatform import stack

NEIGHBOURS, WRITES_PER_SECOND = 4, 50


def run(platform: stack.Platform, *, quick: bool) -> list[report.Figure]:
    rows = 1_000 if quick else 100_000
    env = platform.env()
    custom = cluster.custom_api(platform)
    pool_url = appplane.pool_admin_url(env)
    tag = uuid.uuid4().hex[:6]
    mover, offline = f"bench-mover-{tag}", f"bench-offline-{tag}"
    names = [mover, offline, *[f"bench-neighbour-{tag}-{n}" for n in range(NEIGHBOURS)]]
    for name in names:
        cluster.create_tenant(custom, name, "free")
    try:
        for name in names:
            cluster.wait_ready(custom, name, interval=0.05)
        projects = {
            name: appplane.seed(pool_url, name, rows if name in (mover, offline) else rows // 10)
            for name in names
        }
        offline_s = _offline_move(env, pool_url, offline)
        headers = {"Authorization": f"Bearer {appplane.token(pool_url, env, mover)}"}
        with httpx.Client(base_url=env["APP_URL"] + "/api", timeout=30, headers=headers) as http:
            writes, errors, fence_ms = _migrate_under_writes(custom, http, mover, projects[mover])
            acked = [note for _, note in writes if note]
            lost = [note for note in acked if http.get(f"/notes/{note}").status_code == 404]
    finally:
        cluster.delete_tenants(custom, names)
    during = [latency * 1000 for latency, _ in writes]
    return [
        report.figure(
            f"Live migration ({rows} rows, {NEIGHBOURS} neighbours): writes held by the fence "
            "(baseline: the tenant moved offline, writes blocked)",
            fence_ms,
            "ms",
            baseline=offline_s * 1000,
        ),
        report.figure(
            f"Live migration: write latency p99 ({WRITES_PER_SECOND} writes/s)",
            report.percentile(during, 0.99),
            "ms",
            at_most=250,
        ),
        report.figure("Live migration: write latency max", max(during), "ms", at_most=1000),
        report.figure("Live migration: failed or lost writes", errors + len(lost), "", at_most=0),
    ]


def _migrate_under_writes(
    custom: client.CustomObjectsApi, http: httpx.Client, tenant: str, project: object
) -> tuple[list[tuple[float, str | None]], int, float]:
    """Move `tenant` to a silo while writing to it: (latency, note id) of each write issued
    during the move, the failed writes, the fence time the operator reports."""
    writes: list[tuple[float, float, str | None]] = []  # (sent, latency, note id)
    errors: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        interval, number = 1 / WRITES_PER_SECOND, 0
        next_at = time.monotonic()
        while not stop.is_set():
            number += 1
            sent = time.monotonic()
            try:
                made = http.post(f"/projects/{project}/notes", json={"title": f"w{number}"})
                ok = made.status_code == 201
                writes.append((sent, time.monotonic() - sent, made.json()["id"] if ok else None))
                if not ok:
                    errors.append(f"{made.status_code}: {made.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        custom.patch_cluster_custom_object(
            cluster.GROUP, cluster.VERSION, "tenants", tenant, {"spec": {"tier": "enterprise"}}
        )

        def migration() -> dict[str, object]:
            return dict(
                (cluster.get_tenant(custom, tenant).get("status") or {}).get("migration") or {}
            )

        cluster.until(
            lambda: migration().get("phase") in ("Completed", "Failed"), timeout=900, interval=0.05
        )
        finished = time.monotonic()
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    done = migration()
    if done["phase"] != "Completed":
        raise RuntimeError(f"the live migration failed: {done}")
    during = [(lat, note) for sent, lat, note in writes if started <= sent <= finished]
    return during, len(errors), float(done["writeBlockMs"])  # type: ignore[arg-type]


def _offline_move(env: dict[str, str], pool_url: str, name: str) -> float:
    """Move tenant `name` to a silo the way one would without Tenantry: stop writes, dump its
    rows, create and migrate a database, restore, switch. Returns the seconds it took."""
    cfg = operator_settings.OperatorSettings(
        postgres_admin_url=env["TENANTRY_POSTGRES_ADMIN_URL"],
        app_db_password=env["TENANTRY_APP_DB_PASSWORD"],
        app_jwt_public_key=env["JWT_PUBLIC_KEY"],
    )
    tenant = model.Tenant.from_body({"metadata": {"name": name}, "spec": {"tier": "free"}})
    source = planning.plan_database(tenant, model.Isolation.POOL)
    target = planning.plan_database(tenant, model.Isolation.SILO)
    dbs = provisioner.ServerListProvisioner([provisioner.Server.from_url(cfg.admin_url())])
    with tempfile.TemporaryDirectory() as directory:
        started = time.monotonic()
        manifest = snapshots.dump(pool_url, source, Path(directory), name)
        databases.ensure_tenant(cfg, dbs, target, "offline-password")
        located = dbs.locate(target.database or "")
        assert located is not None
        snapshots.restore(located.admin_url, target, Path(directory) / manifest["file"])
        elapsed = time.monotonic() - started
    databases.discard(cfg, dbs, target)  # the move was only measured: its tenant stays pooled
    return elapsed
