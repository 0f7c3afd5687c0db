"""Time from creating a Tenant to Ready, per placement, against a same-run baseline.

The baseline applies the same namespace objects (namespace, quota, limits, network policy,
RBAC) straight to the API server and waits for the namespace to be Active: what provisioning
costs without Tenantry. Each placement's ratio is Tenantry's overhead on top: the role, the
routing row and the Secret (pool); the schema and its migrations (bridge); the dedicated
database, its migrations and a two-replica app deployment becoming Available (silo).
10 rounds (3 for silo; 1 in quick mode). Run by `bench.suite`; targets: pool p95 at most 1.5x
the baseline's and 0.2 s, silo p95 2 s.
"""

from __future__ import annotations

import time
import uuid

from kubernetes import client, config, dynamic
from tenantry_operator import model, planning

from bench import cluster, report
from localplatform import stack

PLACEMENTS = {"pool": "free", "bridge": "pro", "silo": "enterprise"}


def run(platform: stack.Platform, *, quick: bool) -> list[report.Figure]:
    rounds = 1 if quick else 10
    api = config.new_client_from_config(config_file=str(platform.kubeconfig))
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    kinds = dynamic.DynamicClient(api).resources
    tier = model.Tier.from_body(
        custom.get_cluster_custom_object(cluster.GROUP, cluster.VERSION, "tiers", "free")
    )
    made: list[str] = []

    def baseline() -> float:
        name = f"bench-base-{uuid.uuid4().hex[:8]}"
        tenant = model.Tenant.from_body({"metadata": {"name": name}, "spec": {"tier": "free"}})
        started = time.monotonic()
        for obj in planning.plan_namespace(tenant, tier):
            kinds.get(api_version=obj["apiVersion"], kind=obj["kind"]).server_side_apply(
                body=obj, field_manager="bench"
            )
        cluster.until(
            lambda: core.read_namespace(f"tenant-{name}").status.phase == "Active", timeout=600
        )
        elapsed = time.monotonic() - started
        core.delete_namespace(f"tenant-{name}")
        return elapsed

    def tenantry(tier_name: str) -> float:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        started = time.monotonic()
        cluster.create_tenant(custom, name, tier_name)
        made.append(name)
        cluster.wait_ready(custom, name)
        return time.monotonic() - started

    try:
        if not quick:
            for tier_name in PLACEMENTS.values():
                tenantry(tier_name)  # warm-up: first reconciles pay for imports and discovery
        base = [baseline() for _ in range(rounds)]
        series = {
            placement: [tenantry(tier_name) for _ in range(max(1, rounds // slower))]
            for placement, tier_name in PLACEMENTS.items()
            for slower in [3 if placement == "silo" else 1]
        }
    finally:
        cluster.delete_tenants(custom, made)
    base_p95 = report.percentile(base, 0.95)
    return [
        report.figure(
            "Pool tenant time-to-Ready, p95 (baseline: the namespace objects applied directly)",
            report.percentile(series["pool"], 0.95),
            "s",
            baseline=base_p95,
            ratio_at_most=1.5,
            at_most=0.2,
        ),
        report.figure(
            "Bridge tenant time-to-Ready, p95",
            report.percentile(series["bridge"], 0.95),
            "s",
            baseline=base_p95,
        ),
        report.figure(
            "Silo tenant time-to-Ready, p95 (database, 2 app pods Available)",
            report.percentile(series["silo"], 0.95),
            "s",
            at_most=2.0,
        ),
    ]
