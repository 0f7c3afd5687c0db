"""Kubernetes helpers the benchmarks share: the client, Tenants and Tiers, waiting for Ready.

Used by every `bench` module that creates Tenants or Tiers on the platform it is given.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client, config

from localplatform import stack
from tenantry_core import resources

GROUP, VERSION = resources.GROUP, resources.VERSION


def custom_api(platform: stack.Platform) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(
        config.new_client_from_config(config_file=str(platform.kubeconfig))
    )


def until(probe: Callable[[], bool], *, timeout: float = 60, interval: float = 0.01) -> None:
    """Poll `probe` until it is true; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError("not ready in time")
        time.sleep(interval)


def is_ready(body: dict[str, Any]) -> bool:
    conds = (body.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def tenant_body(name: str, tier: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Tenant that takes its data with it when deleted (benchmarks leave nothing behind)."""
    return {
        "apiVersion": resources.API_VERSION,
        "kind": resources.TENANT_KIND,
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"tier": tier, "deletionPolicy": "Delete"},
    }


def create_tenant(custom: client.CustomObjectsApi, name: str, tier: str) -> None:
    custom.create_cluster_custom_object(
        GROUP, VERSION, resources.TENANT_PLURAL, tenant_body(name, tier)
    )


def get_tenant(custom: client.CustomObjectsApi, name: str) -> dict[str, Any]:
    return dict(custom.get_cluster_custom_object(GROUP, VERSION, resources.TENANT_PLURAL, name))


def wait_ready(
    custom: client.CustomObjectsApi, name: str, *, timeout: float = 600, interval: float = 0.01
) -> None:
    until(lambda: is_ready(get_tenant(custom, name)), timeout=timeout, interval=interval)


def delete_tenants(custom: client.CustomObjectsApi, names: list[str]) -> None:
    """Delete the Tenants without waiting for their offboarding."""
    for name in names:
        custom.delete_cluster_custom_object(GROUP, VERSION, resources.TENANT_PLURAL, name)


@contextmanager
def tier(custom: client.CustomObjectsApi, **spec: Any) -> Iterator[str]:
    """A pool Tier of its own with `spec`, for the duration; yields its name. Its tenants are
    placed in the home pool database (`main`), where the benchmarks seed and read them."""
    name = f"bench-{uuid.uuid4().hex[:6]}"
    custom.create_cluster_custom_object(
        GROUP,
        VERSION,
        resources.TIER_PLURAL,
        {
            "apiVersion": resources.API_VERSION,
            "kind": resources.TIER_KIND,
            "metadata": {"name": name},
            "spec": {"isolation": "pool", "placement": {"servers": ["main"]}, **spec},
        },
    )
    try:
        yield name
    finally:
        custom.delete_cluster_custom_object(GROUP, VERSION, resources.TIER_PLURAL, name)
