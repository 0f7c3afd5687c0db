"""deploy/'s operator ClusterRole holds every rule of the Role it grants in each tenant namespace:
Kubernetes refuses a Role or RoleBinding that grants more than its author holds."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of `path`, a template's placeholders read as plain strings."""
    text = re.sub(r"\$\{\w+\}", '"placeholder"', path.read_text())
    return [d for d in yaml.safe_load_all(text) if d]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_the_operator_holds_the_tenant_admin_role_it_grants() -> None:
    granted = one(documents(ROOT / "templates/tenant/namespace.yaml"), "Role", "tenant-admin")
    held = one(
        documents(ROOT / "deploy/base/rbac-operator.yaml"), "ClusterRole", "tenantry-operator"
    )
    for rule in granted["rules"]:
        assert rule in held["rules"], f"the operator cannot grant {rule}"


def test_the_operator_may_apply_every_kind_it_plans() -> None:
    planned = {
        d["kind"]
        for name in ("namespace.yaml", "egress.yaml", "silo-workload.yaml")
        for d in documents(ROOT / "templates/tenant" / name)
    } | {"Secret"}
    plural = {
        "Namespace": "namespaces",
        "ResourceQuota": "resourcequotas",
        "LimitRange": "limitranges",
        "NetworkPolicy": "networkpolicies",
        "ServiceAccount": "serviceaccounts",
        "Role": "roles",
        "RoleBinding": "rolebindings",
        "Deployment": "deployments",
        "Service": "services",
        "Secret": "secrets",
    }
    rules = one(
        documents(ROOT / "deploy/base/rbac-operator.yaml"), "ClusterRole", "tenantry-operator"
    )
    applying = {
        resource
        for rule in rules["rules"]
        if {"create", "patch"} <= set(rule["verbs"])
        for resource in rule["resources"]
    }
    assert {plural[kind] for kind in planned} <= applying


def test_each_operator_replica_runs_kopf_in_the_peering_with_a_priority_of_its_own(
    tmp_path: Path,
) -> None:
    """The container's shell command, run with a `python` that prints its arguments."""
    deployment = one(
        documents(ROOT / "deploy/base/operator.yaml"), "Deployment", "tenantry-operator"
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\nfor arg in "$@"; do echo "$arg"; done\n')
    fake.chmod(0o755)
    path = f"{tmp_path}:{os.environ['PATH']}"
    ran = subprocess.run(
        [*container["command"], *container["args"]],
        env={"PATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    args = ran.stdout.splitlines()
    assert args[:3] == ["-m", "kopf", "run"]
    assert {"--all-namespaces", "--peering=tenantry"} <= set(args)
    assert "--liveness=http://0.0.0.0:8081/healthz" in args
    assert args[-2:] == ["-m", "tenantry_operator.handlers"]
    priority = next(a for a in args if a.startswith("--priority="))
    assert 0 <= int(priority.removeprefix("--priority=")) < 2**16
