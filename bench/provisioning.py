"""Time from creating a Tenant to Ready, per placement, against a same-run baseline.

The baseline applies the same namespace objects (namespace, quota, limits, network policy,
RBAC) straight to the API server and waits for the namespace to be Active: what provisioning
costs without Tenantry. Each placement's ratio is Tenantry's overhead on top: the role, the
routing row and the Secret (pool); the schema and its migrations (bridge); the dedicated
database, its migrations and a two-replica app deployment becoming Available (silo).
Target: silo p95 at most 5 s.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, config, dynamic
from tenantry_operator import model, planning

from localplatform import stack
from tenantry_core import resources

GROUP, VERSION = resources.GROUP, resources.VERSION
RESULTS = Path(__file__).resolve().parent / "results"
PLACEMENTS = {"pool": "free", "bridge": "pro", "silo": "enterprise"}
SILO_P95_TARGET = 5.0


def _until(probe: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError("not ready in time")
        time.sleep(0.01)


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_s": round(statistics.median(ordered), 3),
        "p95_s": round(p95, 3),
        "max_s": round(ordered[-1], 3),
        "n": len(ordered),
    }


def run(rounds: int = 20) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        platform = stack.Platform(Path(state))
        try:
            platform.start_infrastructure()
            platform.start_operator()
            api = config.new_client_from_config(config_file=str(platform.kubeconfig))
            custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
            resources = dynamic.DynamicClient(api).resources
            tier = model.Tier.from_body(
                custom.get_cluster_custom_object(GROUP, VERSION, "tiers", "free")
            )

            def baseline() -> float:
                name = f"base-{uuid.uuid4().hex[:8]}"
                tenant = model.Tenant.from_body(
                    {"metadata": {"name": name}, "spec": {"tier": "free"}}
                )
                started = time.monotonic()
                for obj in planning.plan_namespace(tenant, tier):
                    resources.get(
                        api_version=obj["apiVersion"], kind=obj["kind"]
                    ).server_side_apply(body=obj, field_manager="bench")
                _until(lambda: core.read_namespace(f"tenant-{name}").status.phase == "Active")
                return time.monotonic() - started

            def tenantry(tier_name: str) -> float:
                name = f"bench-{uuid.uuid4().hex[:8]}"
                started = time.monotonic()
                body = {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Tenant",
                    "metadata": {"name": name},
                    "spec": {"tier": tier_name},
                }
                custom.create_cluster_custom_object(GROUP, VERSION, "tenants", body)

                def ready() -> bool:
                    body = custom.get_cluster_custom_object(GROUP, VERSION, "tenants", name)
                    conds = (body.get("status") or {}).get("conditions") or []
                    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

                _until(ready)
                return time.monotonic() - started

            for tier_name in PLACEMENTS.values():
                tenantry(tier_name)  # warm-up: first reconciles pay for imports and discovery
            base = summary([baseline() for _ in range(rounds)])
            series = {
                placement: summary([tenantry(tier_name) for _ in range(rounds)])
                for placement, tier_name in PLACEMENTS.items()
            }
        finally:
            platform.stop()
    result: dict[str, Any] = {"benchmark": "tenant time-to-Ready", "baseline": base}
    for placement, stats in series.items():
        result[placement] = {
            **stats,
            "ratio_median": round(stats["median_s"] / max(base["median_s"], 1e-6), 2),
            "ratio_p95": round(stats["p95_s"] / max(base["p95_s"], 1e-6), 2),
        }
    result["silo"]["target_p95_s"] = SILO_P95_TARGET
    result["silo"]["meets_target"] = result["silo"]["p95_s"] <= SILO_P95_TARGET
    return result


def main() -> None:
    result = run()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "provisioning.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
