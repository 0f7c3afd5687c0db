"""Convergence: the operator is level-triggered. A Tier flipped back while a live migration is
finishing still converges, in both orders, within 30 s of the last change; SREs see a
tenant's Events with `kubectl describe`, and the operator's log shows no temporary retry as an
ERROR."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration

CONVERGED_WITHIN = 30.0  # seconds after the last change to the Tenant
MIGRATION = 30.0  # what a live migration of an almost empty tenant may take on a busy machine


def converged(custom: client.CustomObjectsApi, name: str, tier: str, placement: str) -> bool:
    tenant = support.get_tenant(custom, name) or {}
    status = tenant.get("status") or {}
    return bool(
        tenant.get("spec", {}).get("tier") == tier
        and status.get("observedGeneration") == tenant["metadata"]["generation"]
        and status.get("placement") == placement
        and (status.get("migration") or {}).get("phase") == "Completed"
        and support.condition(tenant).get("status") == "True"
        and support.condition(tenant, "MigrationRequired").get("status") == "False"
    )


def flip(custom: client.CustomObjectsApi, name: str, there: str, placed: str, back: str) -> None:
    """Move the tenant to the Tier `there`; as soon as its placement says `placed`, back."""
    support.patch_tenant(custom, name, tier=there)
    eventually(
        lambda: ((support.get_tenant(custom, name) or {}).get("status") or {}).get("placement")
        == placed,
        timeout=MIGRATION,
        interval=0.02,
        what=f"{name} placed on {placed}",
    )
    support.patch_tenant(custom, name, tier=back)


def no_drift_reported(core: client.CoreV1Api, name: str) -> None:
    """A tenant nobody touched by hand is never said to have been restored."""
    restored = [e.message for e in support.events_for(core, name) if e.reason == "DriftRestored"]
    assert restored == []


@pytest.mark.parametrize(
    ("start", "there", "placed", "back", "home"),
    [
        ("standard", "enterprise", "silo", "standard", "pool"),
        ("enterprise", "standard", "pool", "enterprise", "silo"),
    ],
    ids=["to-silo-and-back", "to-pool-and-back"],
)
def test_a_tier_flipped_back_mid_migration_converges(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    start: str,
    there: str,
    placed: str,
    back: str,
    home: str,
) -> None:
    name = support.unique("flip")
    # Delete: the source copy of each migration is purged, so nothing is left once it is gone.
    support.create_tenant(custom, name, tier=start, deletionPolicy="Delete")
    support.wait_ready(custom, name, timeout=90)
    flip(custom, name, there, placed, back)
    eventually(
        lambda: converged(custom, name, back, home),
        timeout=MIGRATION + CONVERGED_WITHIN,
        interval=0.5,
        what=f"{name} back on {home} and Ready",
    )
    no_drift_reported(core, name)
    support.delete_tenant(custom, name)


def event_reasons(described: str) -> list[str]:
    """The reasons in the Events section of `kubectl describe` output."""
    _, _, events = described.partition("\nEvents:")
    rows = [line.split() for line in events.splitlines()[1:]]
    return [row[1] for row in rows if len(row) > 2 and row[0] in ("Normal", "Warning")]


def test_describe_shows_the_tenants_events_and_retries_are_no_errors(
    custom: client.CustomObjectsApi, platform: stack.Platform
) -> None:
    name = support.unique("describe")
    support.create_tenant(custom, name, tier="enterprise")  # its app takes a while: retries
    support.wait_ready(custom, name, timeout=90)

    def described() -> list[str]:
        shown = platform.kubectl("describe", "tnt", name).stdout
        return event_reasons(shown)

    reasons = eventually(described, what=f"Events in kubectl describe tnt {name}")
    assert {"NamespaceReady", "DatabaseReady", "WorkloadReady", "Ready"} <= set(reasons)

    log = (platform.state_dir / "logs" / "operator.log").read_text(errors="replace")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, "the operator logs JSON lines"
    errors = [
        line
        for line in lines
        if line.get("severity") in ("error", "fatal") and "temporarily" in line.get("message", "")
    ]
    assert errors == []
    support.delete_tenant(custom, name)
