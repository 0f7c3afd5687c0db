"""Least privilege, proven: the operator and the control plane run with ServiceAccount tokens
bound to exactly deploy/'s roles (no admin kubeconfig) through a tenant's whole life, and the
API server refuses them nothing; a role missing a rule is reported on the Tenant, not a crash.

The module swaps the session's operator and control plane for ones acting as the ServiceAccounts
(the operator in kopf's peering, as deploy/ runs it) and puts the admin ones back at the end.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from kubernetes import client

from localplatform import kube, procs, services, stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration

DEPLOY = kube.REPO_ROOT / "deploy"
NAMESPACE = "tenantry-system"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
# What a refusal looks like in either process's log: the client's ApiException, kopf's warnings.
REFUSED = re.compile(r"\b403\b|forbidden|not enough permissions|failed to post an event", re.I)


def objects(platform: stack.Platform, path: Path) -> list[dict[str, Any]]:
    rendered = platform.kubectl("kustomize", str(path)).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def apply(platform: stack.Platform, items: list[dict[str, Any]]) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    platform.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=tenantry-install",
        "-f", "-", stdin=body,
    )  # fmt: skip


@dataclass
class Identities:
    """The deploy/ roles as installed, and where the processes acting with them log."""

    roles: dict[str, dict[str, Any]]
    logs: dict[str, tuple[Path, int]]  # process name -> (log, offset when it started)
    as_operator: Path  # the operator ServiceAccount's kubeconfig

    def refusals(self) -> list[str]:
        found = []
        for name, (log, offset) in self.logs.items():
            with log.open(errors="replace") as text:
                text.seek(offset)
                found += [f"{name}: {line}" for line in text if REFUSED.search(line)]
        return found


def offset(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def mirrored(custom: client.CustomObjectsApi, env: dict[str, str]) -> None:
    """Wait until the control plane's mirror has listed the Tenants and watches them: a Tenant
    made with kubectl reaches the registry. (A signup while that first list is in flight can be
    taken for a vanished Tenant by the mirror: the tests sign up only after this.)"""
    name = support.unique("mirrored")
    url = env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    support.create_tenant(custom, name, tier="free", deletionPolicy="Delete")
    with psycopg.connect(url, autocommit=True) as registry:
        query = "SELECT 1 FROM tenants WHERE tenant_key = %s"
        eventually(lambda: registry.execute(query, (name,)).fetchone(), what="the mirror")
    support.delete_tenant(custom, name)


@pytest.fixture(scope="module")
def least_privilege(
    platform: stack.Platform, custom: client.CustomObjectsApi
) -> Iterator[Identities]:
    platform.kubectl(
        "apply", "--server-side", "--field-manager=tenantry-install", "-k", str(DEPLOY / "crds")
    )
    platform.kubectl(
        "wait", "--for=condition=Established", "--timeout=30s", "crd/clusterkopfpeerings.kopf.dev"
    )
    base = objects(platform, DEPLOY / "base")
    installed = [o for o in base if o["kind"] in RBAC_KINDS | {"ClusterKopfPeering"}]
    apply(platform, installed)
    roles = {o["metadata"]["name"]: o for o in installed if o["kind"] == "ClusterRole"}
    as_operator = platform.service_account_kubeconfig(NAMESPACE, "tenantry-operator")
    as_control_plane = platform.service_account_kubeconfig(NAMESPACE, "tenantry-control-plane")
    logs = platform.state_dir / "logs"
    platform.stop_operator()
    platform.stop_process(services.CONTROL_PLANE)
    watched = {
        name: (logs / f"{name}.log", offset(logs / f"{name}.log"))
        for name in (services.OPERATOR, services.CONTROL_PLANE)
    }
    try:
        platform.start_operator(kubeconfig=as_operator, peering="tenantry")
        platform.start_control_plane(kubeconfig=as_control_plane)
        mirrored(custom, platform.env())
        yield Identities(roles, watched, as_operator)
    finally:
        platform.stop_operator()
        platform.stop_process(services.CONTROL_PLANE)
        platform.start_operator()
        platform.start_control_plane()
        mirrored(custom, platform.env())  # the next module signs up at once


def tenant_record(api: httpx.Client, headers: dict[str, str], tenant_id: str) -> dict[str, Any]:
    found = api.get(f"/tenants/{tenant_id}", headers=headers)
    assert found.status_code == 200, found.text
    return dict(found.json())


def test_a_tenants_whole_life_needs_nothing_the_roles_do_not_grant(
    least_privilege: Identities,
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    control_db: psycopg.Connection[Any],
) -> None:
    # Created through the control plane's signup, reconciled by the operator.
    signed_up = support.signup(api, support.unique("Least"))
    slug, tenant_id = signed_up["tenant"]["slug"], signed_up["tenant"]["id"]
    owner, admin = support.auth(signed_up), support.admin(api, env)
    support.wait_ready(custom, slug)

    # A tier change through the outbox: a live migration from the pool to a silo.
    support.set_tier(api, env, tenant_id, "enterprise")

    def in_silo() -> dict[str, Any] | None:
        tenant = support.get_tenant(custom, slug) or {}
        status = tenant.get("status") or {}
        migration = status.get("migration") or {}
        done = migration.get("phase") == "Completed" and status.get("phase") == "Ready"
        return tenant if done and status.get("placement") == "silo" else None

    eventually(in_silo, timeout=90, what=f"{slug} migrated to a silo")

    # Suspended through the API; the control plane's mirror reads the status back.
    suspended = api.post(f"/tenants/{tenant_id}/suspend", headers=admin)
    assert suspended.status_code == 200, suspended.text
    support.wait_phase(custom, slug, "Suspended")
    eventually(
        lambda: tenant_record(api, admin, tenant_id)["phase"] == "Suspended",
        what="the registry mirrors Suspended",
    )

    # Offboarded through the API; when the grace ends the control plane deletes the Tenant and
    # the operator offboards it.
    closed = api.post(f"/tenants/{tenant_id}/offboard", headers=owner)
    assert closed.status_code == 200, closed.text
    control_db.execute("UPDATE tenants SET offboard_after = now() WHERE id = %s", (tenant_id,))
    eventually(lambda: support.get_tenant(custom, slug) is None, timeout=60, what="deleted")

    # kopf posted the Tenant's Events (in namespace default, where deploy/ lets it).
    events = support.events_for(core, slug)
    assert {e.reason for e in events} >= {"Offboarded"}
    assert {e.metadata.namespace for e in events} == {"default"}
    assert least_privilege.refusals() == []


def without_rule(role: dict[str, Any], resource: str) -> dict[str, Any]:
    trimmed = copy.deepcopy(role)
    trimmed["rules"] = [r for r in role["rules"] if resource not in r["resources"]]
    assert len(trimmed["rules"]) == len(role["rules"]) - 1
    return trimmed


def test_a_missing_rule_is_reported_on_the_tenant_not_a_crash(
    platform: stack.Platform,
    least_privilege: Identities,
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
) -> None:
    role = least_privilege.roles["tenantry-operator"]
    apply(platform, [without_rule(role, "networkpolicies")])
    name = support.unique("norule")
    try:
        support.create_tenant(custom, name, tier="free", deletionPolicy="Delete")

        def refused() -> dict[str, Any] | None:
            found = support.condition(support.get_tenant(custom, name), "NamespaceReady")
            return found if found.get("reason") == "ApplyFailed" else None

        condition = eventually(refused, what=f"{name} reports the refused apply")
        assert condition["status"] == "False"
        assert "NetworkPolicy" in condition["message"]
        assert "forbidden" in condition["message"]
        warnings = [e for e in support.events_for(core, name) if e.type == "Warning"]
        assert any(e.reason == "ApplyFailed" for e in warnings)
        operator = platform.processes[services.OPERATOR]
        assert operator.alive()
        assert procs.http_ok(services.healthz(platform.port("operator-health")))
        # The log scan of the other test would have seen it.
        assert any("networkpolicies" in line for line in least_privilege.refusals())
    finally:
        apply(platform, [role])
    # With the rule back, the same Tenant becomes Ready: nothing was lost.
    support.wait_ready(custom, name, timeout=60)
    support.delete_tenant(custom, name)


def logged(log: Path, text: str) -> bool:
    return text in log.read_text(errors="replace")


def peers(custom: client.CustomObjectsApi) -> dict[str, Any]:
    """The live operators of the ClusterKopfPeering `tenantry`, by identity."""
    peering = custom.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", "tenantry")
    return {k: v for k, v in (peering.get("status") or {}).items() if v}


@pytest.mark.slow
def test_a_standby_operator_waits_in_the_peering_and_takes_over(
    platform: stack.Platform, least_privilege: Identities, custom: client.CustomObjectsApi
) -> None:
    """Two operators as the same ServiceAccount in the peering `tenantry`, as deploy/ runs two
    replicas: the one of lower priority stays paused, and handles Tenants once the other is
    gone."""
    name, port = "operator-standby", platform.port("operator-standby-health")
    args = [*services.operator_args(health_port=port, peering="tenantry"), "--priority=-1"]
    env = {**platform.env_for(least_privilege.as_operator), "TENANTRY_METRICS_PORT": "0"}
    standby = services.start(platform.supervisor, name, args, env=env, health_port=port)
    first, second = support.unique("active"), support.unique("takeover")
    try:
        eventually(lambda: len(peers(custom)) == 2, what="both operators in the peering")
        support.create_tenant(custom, first, tier="free", deletionPolicy="Delete")
        support.wait_ready(custom, first)
        # A peer starts paused and says when it resumes: the standby never did.
        assert not logged(standby.log, "Resuming operations")
        assert not logged(standby.log, first)

        platform.stop_operator()
        eventually(lambda: logged(standby.log, "Resuming operations"), what="the standby resumes")
        support.create_tenant(custom, second, tier="free", deletionPolicy="Delete")
        support.wait_ready(custom, second)
        eventually(lambda: logged(standby.log, second), what=f"the standby handling {second}")
        assert not [line for line in standby.log.open() if REFUSED.search(line)]
    finally:
        platform.supervisor.stop(standby)
        platform.start_operator(kubeconfig=least_privilege.as_operator, peering="tenantry")
    for tenant in (first, second):
        support.delete_tenant(custom, tenant)
