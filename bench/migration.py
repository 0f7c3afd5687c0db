"""Live pool → silo moves under load at several sizes, against moving the same tenant offline.

For each size (10k, 100k and 1M rows; quick mode: 10k; `BENCH_MOVE_ROWS=10000,100000` picks
others), a tenant with that many rows shares the pool with neighbours; a writer sends a steady
stream of writes through the app plane while the operator moves it live. Reported per size: the
latency of the writes issued during the move (p99 and max: how long the fence made them wait),
errors and lost writes (acknowledged but absent afterwards), the operator's fence time against
the baseline, in the same run: an identical tenant moved offline (pg_dump of its rows, a new
database, restore), whose duration is how long that tenant could not write, and the move's
total time. Run by `bench.suite`; targets: write p99 at most 250 ms and max at most 1 s at
every size, no errors, none lost, and at 1M rows a fence at least 50 times shorter than the
offline move.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from kubernetes import client
from tenantry_operator import databases, model, planning, provisioner, snapshots, stores
from tenantry_operator import settings as operator_settings

from bench import appplane, cluster, report
from localplatform import stack

NEIGHBOURS, NEIGHBOUR_ROWS, WRITES_PER_SECOND = 4, 10_000, 50
SIZES, QUICK_SIZES = (10_000, 100_000, 1_000_000), (10_000,)
FENCE_RATIO_ABOVE = 1_000_000  # from this size, the fence is ≤ 1/50 of the offline move
SIZES_VARIABLE = "BENCH_MOVE_ROWS"


def sizes(*, quick: bool) -> list[int]:
    """The tenant sizes to move: `BENCH_MOVE_ROWS` (comma-separated), else by mode."""
    chosen = os.environ.get(SIZES_VARIABLE, "").strip()
    if chosen:
        return [int(n) for n in chosen.split(",")]
    return list(QUICK_SIZES if quick else SIZES)


def run(platform: stack.Platform, *, quick: bool) -> list[report.Figure]:
    env = platform.env()
    custom = cluster.custom_api(platform)
    pool_url = appplane.pool_admin_url(env)
    tag = uuid.uuid4().hex[:6]
    neighbours = [f"bench-neighbour-{tag}-{n}" for n in range(NEIGHBOURS)]
    for name in neighbours:
        cluster.create_tenant(custom, name, "free")
    figures: list[report.Figure] = []
    try:
        for name in neighbours:
            cluster.wait_ready(custom, name, interval=0.05)
            appplane.seed(pool_url, name, NEIGHBOUR_ROWS)
        for rows in sizes(quick=quick):
            figures += _size(env, custom, pool_url, f"{tag}-{rows}", rows)
    finally:
        cluster.delete_tenants(custom, neighbours)
    return figures


def _size(
    env: dict[str, str], custom: client.CustomObjectsApi, pool_url: str, tag: str, rows: int
) -> list[report.Figure]:
    mover, offline = f"bench-mover-{tag}", f"bench-offline-{tag}"
    for name in (mover, offline):
        cluster.create_tenant(custom, name, "free")
    try:
        for name in (mover, offline):
            cluster.wait_ready(custom, name, interval=0.05)
        projects = {name: appplane.seed(pool_url, name, rows) for name in (mover, offline)}
        offline_s = _offline_move(env, pool_url, offline)
        headers = {"Authorization": f"Bearer {appplane.token(pool_url, env, mover)}"}
        with httpx.Client(base_url=env["APP_URL"] + "/api", timeout=30, headers=headers) as http:
            moved = _migrate_under_writes(custom, http, mover, projects[mover])
            acked = [note for _, note in moved.writes if note]
            lost = [note for note in acked if http.get(f"/notes/{note}").status_code == 404]
    finally:
        cluster.delete_tenants(custom, [mover, offline])
    during = [latency * 1000 for latency, _ in moved.writes]
    name = f"Live move pool → silo, {rows} rows"
    return [
        report.figure(
            f"{name}: write latency p99 ({WRITES_PER_SECOND} writes/s, {NEIGHBOURS} neighbours)",
            report.percentile(during, 0.99),
            "ms",
            at_most=250,
        ),
        report.figure(f"{name}: write latency max", max(during), "ms", at_most=1000),
        report.figure(
            f"{name}: fence (baseline: the tenant moved offline by dump + restore, writes "
            "blocked throughout)",
            moved.fence_ms,
            "ms",
            baseline=offline_s * 1000,
            ratio_at_most=1 / 50 if rows >= FENCE_RATIO_ABOVE else None,
        ),
        report.figure(f"{name}: total time of the live move", moved.total_s, "s"),
        report.figure(f"{name}: failed or lost writes", moved.errors + len(lost), "", at_most=0),
    ]


@dataclass(frozen=True)
class Moved:
    """What one live move under writes measured."""

    writes: list[tuple[float, str | None]]  # (latency, note id) of the writes during the move
    errors: int
    fence_ms: float
    total_s: float


def _migrate_under_writes(
    custom: client.CustomObjectsApi, http: httpx.Client, tenant: str, project: object
) -> Moved:
    """Move `tenant` to a silo while writing to it: (latency, note id) of each write issued
    during the move, the failed writes, the fence time the operator reports, the move's time."""
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
            lambda: migration().get("phase") in ("Completed", "Failed"), timeout=1800, interval=0.1
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
    blocked = float(done["writeBlockMs"])  # type: ignore[arg-type]
    return Moved(during, len(errors), blocked, finished - started)


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
        store = stores.DirectoryStore(Path(directory))
        manifest = snapshots.dump(pool_url, source, store, name)
        databases.ensure_tenant(cfg, dbs, target, "offline-password")
        located = dbs.locate(target.database or "")
        assert located is not None
        snapshots.restore(located.admin_url, target, store, manifest["file"])
        elapsed = time.monotonic() - started
    databases.discard(cfg, dbs, target)  # the move was only measured: its tenant stays pooled
    return elapsed
