"""What the local platform applies to its cluster: the CRDs, the platform namespace with the
shared app's Secret, the shared app itself (`templates/platform`) and the default Tiers.

Server-side apply under one field manager, so applying again (on a restart, or on an existing
cluster) changes nothing. `localplatform.stack` installs the CRDs before the controller manager
starts, and everything once the cluster is up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from localplatform import kube
from tenantry_core import resources

CRDS = kube.REPO_ROOT / "crds"
PLATFORM_TEMPLATES = kube.REPO_ROOT / "templates" / "platform"
FIELD_MANAGER = "tenantry"
CRD_NAMES = tuple(
    f"{plural}.{resources.GROUP}" for plural in (resources.TENANT_PLURAL, resources.TIER_PLURAL)
)
# The name of the shared app's Secret (`templates/platform` reads it) and what it holds.
SHARED_APP = "tenantry-app"
SHARED_APP_KEYS = ("TENANTRY_APP_DATABASE_URL", "JWT_PUBLIC_KEY")


def _apply(kubectl: kube.Kubectl, *sources: str, stdin: str | None = None) -> None:
    files = [arg for source in sources for arg in ("-f", source)]
    kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", *files, stdin=stdin)


def install_crds(kubectl: kube.Kubectl) -> None:
    """Apply the Tenant and Tier CRDs and wait until the API server serves them."""
    _apply(kubectl, *(str(CRDS / f"{name}.yaml") for name in CRD_NAMES))
    kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        *(f"crd/{name}" for name in CRD_NAMES),
    )


def platform_objects(env: Mapping[str, str]) -> dict[str, Any]:
    """The platform namespace and, in it, the shared app's Secret from the platform's `env`."""
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": resources.PLATFORM_NAMESPACE,
                    "labels": {resources.LABEL_PLATFORM: "true"},
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": SHARED_APP, "namespace": resources.PLATFORM_NAMESPACE},
                "stringData": {k: env[k] for k in SHARED_APP_KEYS},
            },
        ],
    }


def install(kubectl: kube.Kubectl, env: Mapping[str, str]) -> None:
    """The CRDs (again: needed on an existing cluster), the platform namespace and Secret, the
    shared app and the default Tiers."""
    install_crds(kubectl)
    _apply(kubectl, "-", stdin=json.dumps(platform_objects(env)))
    _apply(kubectl, str(PLATFORM_TEMPLATES))
    _apply(kubectl, str(CRDS / "default-tiers.yaml"))
