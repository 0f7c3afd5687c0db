"""Kubeconfigs that act as a ServiceAccount: the admin kubeconfig's cluster (server and CA), a
token of the ServiceAccount, and its namespace as the context's namespace, as in a pod.

Pure: documents in, documents out. `localplatform.stack.Platform.service_account_kubeconfig`
gets the token (TokenRequest) and writes the file; the least-privilege tests run Tenantry's
processes with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def for_token(admin: Mapping[str, Any], *, user: str, token: str, namespace: str) -> dict[str, Any]:
    """A kubeconfig for `token`, on the cluster of `admin`'s current context."""
    current = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    cluster_name = current["context"]["cluster"]
    cluster = next(c for c in admin["clusters"] if c["name"] == cluster_name)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [dict(cluster)],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": user,
                "context": {"cluster": cluster_name, "user": user, "namespace": namespace},
            }
        ],
        "current-context": user,
    }
