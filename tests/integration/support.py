"""Helpers for integration tests: Tenant resources, conditions, events, signups."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from kubernetes import client

from tests.conftest import eventually

GROUP, VERSION = "tenantry.dev", "v1alpha1"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def get_tenant(custom: client.CustomObjectsApi, name: str) -> dict[str, Any] | None:
    try:
        return dict(custom.get_cluster_custom_object(GROUP, VERSION, "tenants", name))
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def condition(tenant: dict[str, Any] | None, ctype: str = "Ready") -> dict[str, Any]:
    for cond in ((tenant or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return dict(cond)
    return {}


def wait_ready(custom: client.CustomObjectsApi, name: str, timeout: float = 30) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        tenant = get_tenant(custom, name)
        return tenant if condition(tenant).get("status") == "True" else None

    return eventually(ready, timeout=timeout, what=f"tenant {name} Ready")


def create_tenant(custom: client.CustomObjectsApi, name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": spec,
    }
    return dict(custom.create_cluster_custom_object(GROUP, VERSION, "tenants", body))


def events_for(core: client.CoreV1Api, name: str) -> list[client.CoreV1Event]:
    found = core.list_event_for_all_namespaces(
        field_selector=f"involvedObject.kind=Tenant,involvedObject.name={name}"
    )
    return list(found.items)


def signup(api: httpx.Client, company: str, tier: str = "free") -> dict[str, Any]:
    response = api.post(
        "/signup",
        json={
            "company": company,
            "email": f"owner@{company.lower()}.example.com",
            "password": "correct horse battery staple",
            "tier": tier,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def auth(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['token']['access_token']}"}
