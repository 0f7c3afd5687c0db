"""Live pool → silo migration under load, against moving the same tenant offline.

A tenant with 100k rows shares the pool with neighbours; a writer sends a steady stream of
writes through the app plane while the operator migrates it live. Reported: the latency of the
writes issued during the migration (p50/p99/max: how long the fence made them wait), errors,
lost writes (acknowledged but absent afterwards), the operator's fence time and the total
migration time. The baseline, in the same run, moves an identical tenant offline (pg_dump of
its rows, a new database, restore): its duration is how long that tenant could not write.
Targets: write p99 at most 250 ms, max at most 1 s, no errors, nothing lost.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from kubernetes import client, config
from tenantry_operator import databases, model, planning, provisioner, snapshots
from tenantry_operator import settings as operator_settings

from control_plane.core import security
from localplatform import stack
from tenantry_core import identity, resources, routing, scopes, tokens

GROUP, VERSION = resources.GROUP, resources.VERSION
RESULTS = Path(__file__).resolve().parent / "results"
ROWS, NEIGHBOURS, WRITES_PER_SECOND = 100_000, 4, 50


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _seed(pool_url: str, tenant: str, rows: int) -> None:
    with psycopg.connect(pool_url, autocommit=True) as conn:
        project = uuid.uuid4()
        conn.execute(
            "INSERT INTO projects (tenant_key, id, name) VALUES (%s, %s, 'bench')",
            (tenant, project),
        )
        conn.execute(
            "INSERT INTO notes (tenant_key, project_id, title, body) "
            "SELECT %s, %s, 'note ' || n, repeat('x', 100) "
            "FROM generate_series(1, %s) n",
            (tenant, project, rows),
        )


def _admit(pool_url: str, principal: tokens.Principal) -> None:
    """Publish the writer as one of its tenant's principals, as the control plane (which this
    benchmark does not run) would for a user of that tenant."""
    with psycopg.connect(pool_url, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {routing.PRINCIPALS_TABLE} "
            "(id, tenant_id, tenant_key, kind, permissions) VALUES (%s, %s, %s, 'user', %s)",
            (
                principal.user_id,
                principal.tenant_id,
                principal.tenant_key,
                sorted(principal.permissions),
            ),
        )


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        platform = stack.Platform(Path(state))
        try:
            platform.start_infrastructure()
            platform.start_operator()
            platform.start_app_plane()
            env = platform.env()
            api = config.new_client_from_config(config_file=str(platform.kubeconfig))
            custom = client.CustomObjectsApi(api)
            pool_url = env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0] + "/tenantry_pool"

            def tenant(name: str) -> None:
                custom.create_cluster_custom_object(
                    GROUP,
                    VERSION,
                    "tenants",
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "Tenant",
                        "metadata": {"name": name},
                        "spec": {"tier": "free", "deletionPolicy": "Delete"},
                    },
                )

            def phase(name: str) -> dict[str, Any]:
                return dict(
                    custom.get_cluster_custom_object(GROUP, VERSION, "tenants", name).get("status")
                    or {}
                )

            names = ["mover", "offline", *[f"neighbour-{n}" for n in range(NEIGHBOURS)]]
            for name in names:
                tenant(name)
            while any(phase(name).get("phase") != "Ready" for name in names):
                time.sleep(0.1)
            for name in names:
                _seed(pool_url, name, ROWS if name in ("mover", "offline") else ROWS // 10)

            offline_s = _offline_move(env, pool_url)

            principal = tokens.Principal(
                uuid.uuid4(),
                uuid.uuid4(),
                identity.TenantKey("mover"),
                "owner",
                frozenset(scopes.ALL),
            )
            _admit(pool_url, principal)
            token = security.create_access_token(
                principal,
                signing_key=env["JWT_PRIVATE_KEY"],
                issuer="tenantry",
                audience="tenantry",
                expires=dt.timedelta(hours=1),
            )
            http = httpx.Client(
                base_url=env["APP_URL"] + "/api",
                timeout=30,
                headers={"Authorization": f"Bearer {token}"},
            )
            project = http.get("/projects").json()[0]["id"]
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
                        writes.append(
                            (sent, time.monotonic() - sent, made.json()["id"] if ok else None)
                        )
                        if not ok:
                            errors.append(f"{made.status_code}: {made.text[:200]}")
                    except httpx.HTTPError as exc:
                        errors.append(repr(exc))
                    next_at += interval
                    time.sleep(max(0.0, next_at - time.monotonic()))

            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
            time.sleep(1.0)
            started = time.monotonic()
            custom.patch_cluster_custom_object(
                GROUP, VERSION, "tenants", "mover", {"spec": {"tier": "enterprise"}}
            )
            while (phase("mover").get("migration") or {}).get("phase") not in (
                "Completed",
                "Failed",
            ):
                time.sleep(0.05)
            finished = time.monotonic()
            time.sleep(1.0)
            stop.set()
            thread.join()
            status = phase("mover")
            stored = {n["id"] for n in http.get(f"/projects/{project}/notes").json()}
        finally:
            platform.stop()
    during = [latency for sent, latency, _ in writes if started <= sent <= finished]
    acked = [note for _, _, note in writes if note]
    return {
        "benchmark": "live migration pool -> silo under writes",
        "rows": ROWS,
        "neighbours": NEIGHBOURS,
        "writes_per_second": WRITES_PER_SECOND,
        "migration": {
            "result": status["migration"]["phase"],
            "total_s": round(finished - started, 2),
            "fence_ms": status["migration"]["writeBlockMs"],
            "writes_during": len(during),
            "write_latency_p50_ms": round(statistics.median(during) * 1000, 1),
            "write_latency_p99_ms": round(_percentile(during, 0.99) * 1000, 1),
            "write_latency_max_ms": round(max(during) * 1000, 1),
            "errors": len(errors),
            "lost_writes": len(set(acked) - stored),
        },
        "baseline_offline_move": {"writes_blocked_s": round(offline_s, 2)},
        "targets": {"write_p99_ms": 250, "write_max_ms": 1000, "errors": 0, "lost": 0},
    }


def _offline_move(env: dict[str, str], pool_url: str) -> float:
    """Move tenant 'offline' to a silo the way one would without Tenantry: stop writes, dump
    its rows, create and migrate a database, restore, switch. Returns the seconds it took."""
    cfg = operator_settings.OperatorSettings(
        postgres_admin_url=env["TENANTRY_POSTGRES_ADMIN_URL"],
        app_db_password=env["TENANTRY_APP_DB_PASSWORD"],
        app_jwt_public_key=env["JWT_PUBLIC_KEY"],
    )
    tenant = model.Tenant.from_body({"metadata": {"name": "offline"}, "spec": {"tier": "free"}})
    source = planning.plan_database(tenant, model.Isolation.POOL)
    target = planning.plan_database(tenant, model.Isolation.SILO)
    dbs = provisioner.ServerListProvisioner([provisioner.Server.from_url(cfg.admin_url())])
    with tempfile.TemporaryDirectory() as directory:
        started = time.monotonic()
        manifest = snapshots.dump(pool_url, source, Path(directory), "offline")
        databases.ensure_tenant(cfg, dbs, target, "offline-password")
        located = dbs.locate(target.database or "")
        assert located is not None
        snapshots.restore(located.admin_url, target, Path(directory) / manifest["file"])
        return time.monotonic() - started


def main() -> None:
    result = run()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "migration.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
