"""deploy/ as the API server sees it: every overlay passes a server-side dry run of the whole
install (CRDs, platform, default Tiers), and every pod Tenantry runs in tenantry-system satisfies
the Pod Security "restricted" level the namespace enforces, which rejects a pod that does not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localplatform import kube, stack
from tests.integration import support

pytestmark = pytest.mark.integration

DEPLOY = kube.REPO_ROOT / "deploy"
# Stand-ins for the Prometheus Operator's CRDs (not installed here), so the production overlay's
# ServiceMonitor and PodMonitor can be dry-run: they check the kinds, not the fields.
MONITORING_KINDS = {
    "ServiceMonitor": "servicemonitors",
    "PodMonitor": "podmonitors",
    "PrometheusRule": "prometheusrules",
}


def stand_in_crd(kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/ and crds/ copied as they are, with the Secrets' files an installer provides: the
    dev overlay's from its own script, production's from the committed examples."""
    root = tmp_path_factory.mktemp("deploy-checkout")
    shutil.copytree(DEPLOY, root / "deploy")
    shutil.copytree(kube.REPO_ROOT / "crds", root / "crds")
    subprocess.run([str(root / "deploy/overlays/dev/secrets.sh")], check=True)
    secrets = root / "deploy/overlays/production/secrets"
    for example in secrets.glob("*.example"):
        shutil.copy(example, secrets / example.stem)
    key = secrets / "jwt-private-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    subprocess.run(
        [
            "openssl",
            "pkey",
            "-in",
            str(key),
            "-pubout",
            "-out",
            str(secrets / "jwt-public-key.pem"),
        ],
        check=True,
    )
    return root


@pytest.fixture(scope="module")
def deploy_crds(platform: stack.Platform) -> None:
    """Step one of an install, for real: the CRDs must be served before a dry run of the objects
    that use them (kopf's ClusterKopfPeering) can pass. Applying again changes nothing."""
    platform.kubectl(
        "apply", "--server-side", "--field-manager=tenantry-install", "-k", str(DEPLOY / "crds")
    )
    platform.kubectl(
        "wait", "--for=condition=Established", "--timeout=30s", "crd/clusterkopfpeerings.kopf.dev"
    )


@pytest.fixture(scope="module")
def monitoring_crds(platform: stack.Platform) -> Iterator[None]:
    crds = [stand_in_crd(kind, plural) for kind, plural in MONITORING_KINDS.items()]
    platform.kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": crds})
    )
    names = [f"crd/{crd['metadata']['name']}" for crd in crds]
    platform.kubectl("wait", "--for=condition=Established", "--timeout=30s", *names)
    try:
        yield
    finally:
        platform.kubectl("delete", *names, "--wait=false")


def rendered(platform: stack.Platform, path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(platform.kubectl("kustomize", str(path)).stdout) if d]


@pytest.mark.usefixtures("deploy_crds", "monitoring_crds")
@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_the_whole_install_passes_a_server_side_dry_run(
    platform: stack.Platform, checkout: Path, overlay: str
) -> None:
    assert platform.kubeconfig is not None
    kubectl = kube.Kubectl(platform.kubeconfig, platform.kubectl_dir).argv()[0]
    done = subprocess.run(
        [str(checkout / "deploy/install.sh"), overlay, "--dry-run=server"],
        env={**os.environ, "KUBECTL": kubectl, "KUBECONFIG": str(platform.kubeconfig)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    objects = [
        *rendered(platform, checkout / "deploy/crds"),
        *rendered(platform, checkout / f"deploy/overlays/{overlay}"),
    ]
    accepted = [line for line in done.stdout.splitlines() if "(server dry run)" in line]
    assert len(accepted) == len(objects), done.stdout
    for obj in objects:
        name = obj["metadata"]["name"]
        assert any(f"/{name} " in line for line in accepted), f"{obj['kind']} {name} not applied"


def pod_from(workload: dict[str, Any], namespace: str) -> dict[str, Any]:
    template = workload["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": workload["metadata"]["name"], "namespace": namespace},
        "spec": template["spec"],
    }


@pytest.fixture
def restricted_namespace(platform: stack.Platform, checkout: Path) -> Iterator[str]:
    """A namespace labelled exactly as deploy/ labels tenantry-system, with its ServiceAccounts."""
    objects = rendered(platform, checkout / "deploy/overlays/dev")
    labels = next(o for o in objects if o["kind"] == "Namespace")["metadata"]["labels"]
    name = support.unique("restricted")
    accounts = [
        {**o, "metadata": {**o["metadata"], "namespace": name}}
        for o in objects
        if o["kind"] == "ServiceAccount"
    ]
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
    }
    platform.kubectl("create", "-f", "-", stdin=json.dumps(namespace))
    platform.kubectl(
        "create",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": accounts}),
    )
    try:
        yield name
    finally:
        platform.kubectl("delete", "namespace", name, "--wait=false")


def test_every_pod_in_tenantry_system_satisfies_pod_security_restricted(
    platform: stack.Platform, checkout: Path, restricted_namespace: str
) -> None:
    objects = rendered(platform, checkout / "deploy/overlays/dev")
    workloads = [o for o in objects if o["kind"] == "Deployment"]
    assert {w["metadata"]["name"] for w in workloads} == {
        "tenantry-operator",
        "tenantry-control-plane",
        "app-pool",
        "tenantry-postgres",
    }
    for workload in workloads:
        pod = pod_from(workload, restricted_namespace)
        done = platform.kubectl(
            "create", "--dry-run=server", "-f", "-", stdin=json.dumps(pod), check=False
        )
        assert done.returncode == 0, f"{workload['metadata']['name']}: {done.stderr}"
        assert "PodSecurity" not in done.stderr

    # The check is real: the operator's pod allowed to escalate its privileges is refused.
    operator = pod_from(workloads[0], restricted_namespace)
    operator["metadata"]["name"] = "escalating"
    operator["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    refused = platform.kubectl(
        "create", "--dry-run=server", "-f", "-", stdin=json.dumps(operator), check=False
    )
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    assert "allowPrivilegeEscalation" in refused.stderr
