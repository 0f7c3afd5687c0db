"""The authorization matrix, generated from the published OpenAPI document: every operation is
called as every principal of tenant A (owner, admin, member, viewer, a user with a custom role,
an API key) against tenant B's resources, and against A's own with each role.

- BOLA: no principal of A reads or changes anything of B (B's rows and audit log are compared
  before and after), whether it names B's tenant or A's tenant with B's child ids.
- BFLA: a principal lacking an operation's declared permission (`x-permission`) gets 403 and
  changes nothing; one holding it may read.
A route added later is covered by construction; one without an example body fails the test.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tests.integration import support

ROLES = ("owner", "admin", "member", "viewer")
KEY_SCOPES = ["tenant:read", "users:read", "api_keys:read"]
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/api/v1/tenants/{tenant_id}"): {"company": "Hijacked Inc"},
    ("post", "/api/v1/tenants/{tenant_id}/subscription"): {"plan": "enterprise-monthly"},
    ("post", "/api/v1/tenants/{tenant_id}/billing/checkout"): {"plan": "standard-monthly"},
    ("patch", "/api/v1/tenants/{tenant_id}/users/{user_id}"): {"role": "owner"},
    ("post", "/api/v1/tenants/{tenant_id}/invitations"): {
        "email": "intruder@example.com",
        "role": "owner",
    },
    ("post", "/api/v1/tenants/{tenant_id}/roles"): {"name": "pwn", "permissions": ["audit:read"]},
    ("patch", "/api/v1/tenants/{tenant_id}/roles/{role_id}"): {"permissions": ["audit:read"]},
    ("post", "/api/v1/tenants/{tenant_id}/api-keys"): {"name": "pwn", "scopes": ["tenant:read"]},
    ("put", "/api/v1/flags/{key}"): {"percentage": 100},
    ("put", "/api/v1/tenants/{tenant_id}/overrides/{feature}"): {"enabled": True},
    ("put", "/api/v1/tenants/{tenant_id}/ring"): {"ring": "internal"},
    ("post", "/api/v1/tenants/{tenant_id}/moves"): {"isolation": "silo"},
    ("post", "/api/v1/tenants/{tenant_id}/restores"): {"backup": "pwn-backup-20261124.dump"},
    ("post", "/api/v1/placement/rebalance"): {"by": "tenants", "dry_run": True},
    ("post", "/api/v1/tenants/{tenant_id}/webhooks"): {"url": "https://127.0.0.1:9/hook"},
}


@dataclass
class World:
    tenant_id: str
    principals: dict[str, dict[str, str]] = field(default_factory=dict)
    permissions: dict[str, set[str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


def build(api: httpx.Client, env: dict[str, str], tier: str, name: str) -> World:
    body = support.signup(api, support.unique(name))
    world = World(body["tenant"]["id"])
    owner = support.auth(body)
    support.set_tier(api, env, world.tenant_id, tier)
    world.principals["owner"] = owner
    domain = f"{body['tenant']['slug']}.example.com"
    auditor = api.post(
        f"/tenants/{world.tenant_id}/roles",
        headers=owner,
        json={"name": "auditor", "permissions": ["audit:read", "users:read", "api_keys:read"]},
    )
    assert auditor.status_code == 201, auditor.text
    for role in (*ROLES[1:], "auditor"):
        world.principals[role] = support.join(api, world.tenant_id, owner, role, f"{role}@{domain}")
    key = api.post(
        f"/tenants/{world.tenant_id}/api-keys",
        headers=owner,
        json={"name": "matrix", "scopes": KEY_SCOPES},
    ).json()
    world.principals["api-key"] = support.bearer(key["key"])
    for who, headers in world.principals.items():
        world.permissions[who] = set(api.get("/auth/me", headers=headers).json()["permissions"])
    base = f"/tenants/{world.tenant_id}"
    users = api.get(f"{base}/users", headers=owner).json()
    world.ids["user_id"] = next(u["id"] for u in users if u["role"] == "viewer")
    world.ids["invitation_id"] = api.post(
        f"{base}/invitations", headers=owner, json={"email": f"later@{domain}", "role": "viewer"}
    ).json()["id"]
    world.ids["role_id"] = api.post(
        f"{base}/roles", headers=owner, json={"name": "custom", "permissions": ["tenant:read"]}
    ).json()["id"]
    world.ids["key_id"] = key["id"]
    hook = BODIES[("post", "/api/v1/tenants/{tenant_id}/webhooks")]
    world.ids["webhook_id"] = api.post(f"{base}/webhooks", headers=owner, json=hook).json()["id"]
    world.ids["entry_id"] = "1"  # an outbox entry: platform admins only, refused before lookup
    world.ids["key"] = world.ids["feature"] = "sso"  # a flag, an override: platform admins only
    return world


@pytest.fixture(scope="module")
def worlds(
    api: httpx.Client, env: dict[str, str], custom: client.CustomObjectsApi
) -> tuple[World, World]:
    tier = support.unique("matrix")
    support.make_tier(
        custom, tier, rateLimitPerMinute=100000, features=["projects", "audit-log"]
    )
    return build(api, env, tier, "Alpha"), build(api, env, tier, "Beta")


def operations(api: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    spec = api.get("/openapi.json").json()
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if op.get("security")
    ]


def call(
    api: httpx.Client,
    operation: tuple[str, str, dict[str, Any]],
    headers: dict[str, str],
    tenant: str,
    ids: dict[str, str],
) -> httpx.Response:
    method, template, op = operation
    path = template.removeprefix("/api/v1").replace("{tenant_id}", tenant)
    path = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
    body = BODIES.get((method, template))
    if op.get("requestBody", {}).get("required"):
        assert body is not None, f"add an example body for {method.upper()} {template}"
    return api.request(method.upper(), path, headers=headers, json=body)


def snapshot(db: psycopg.Connection[Any], tenant_id: str) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return sorted(db.execute(sql, (tenant_id,)).fetchall(), key=repr)

    return {
        "tenant": rows(
            "SELECT company, tier, suspended, lifecycle, offboard_after FROM tenants WHERE id = %s"
        ),
        "users": rows("SELECT id, email, role_id FROM users WHERE tenant_id = %s"),
        "invitations": rows("SELECT id, role_id, revoked_at FROM invitations WHERE tenant_id = %s"),
        "roles": rows(
            "SELECT r.id, r.description, array_agg(p.permission ORDER BY p.permission) "
            "FROM roles r JOIN role_permissions p ON p.role_id = r.id "
            "WHERE r.tenant_id = %s GROUP BY r.id"
        ),
        "keys": rows("SELECT id, scopes, revoked_at FROM api_keys WHERE tenant_id = %s"),
        "webhooks": rows("SELECT id, url FROM webhook_endpoints WHERE tenant_id = %s"),
        "outbox": rows("SELECT count(*) FROM outbox WHERE tenant_id = %s"),
        "audit": rows("SELECT count(*) FROM audit_log WHERE tenant_id = %s"),
    }


def test_no_principal_of_a_reaches_b(
    api: httpx.Client, worlds: tuple[World, World], control_db: psycopg.Connection[Any]
) -> None:
    a, b = worlds
    before = snapshot(control_db, b.tenant_id)
    checked = 0
    leaks = []
    for operation in operations(api):
        method, template, _ = operation
        if "{tenant_id}" not in template:
            continue
        for who, headers in a.principals.items():
            # B's tenant with B's children, then A's own tenant with B's children.
            variants = [(b.tenant_id, b.ids)]
            if re.search(r"\{(?!tenant_id)\w+\}", template):
                variants.append((a.tenant_id, b.ids))
            for tenant, ids in variants:
                response = call(api, operation, headers, tenant, ids)
                checked += 1
                if response.status_code not in (403, 404):
                    leaks.append((who, method, template, tenant, response.status_code))
    assert leaks == []
    assert checked >= 170  # 26 operations x 6 principals, plus the mixed-id variants
    assert snapshot(control_db, b.tenant_id) == before


def test_no_principal_exceeds_its_permissions(
    api: httpx.Client, worlds: tuple[World, World], control_db: psycopg.Connection[Any]
) -> None:
    a, _ = worlds
    before = snapshot(control_db, a.tenant_id)
    escalations, refused_reads = [], []
    ops = operations(api)
    for operation in ops:
        method, template, op = operation
        needed = op.get("x-permission")
        for who, headers in a.principals.items():
            held = needed is None or needed in a.permissions[who]
            if held and method != "get":
                continue  # a permitted write would change the world the others are tested in
            response = call(api, operation, headers, a.tenant_id, a.ids)
            if not held and response.status_code != 403:
                escalations.append((who, method, template, response.status_code))
            if held and response.status_code >= 400:
                refused_reads.append((who, method, template, response.status_code))
    assert escalations == []
    assert refused_reads == []
    assert snapshot(control_db, a.tenant_id)["tenant"] == before["tenant"]
    assert {"platform:admin", "users:manage", "billing:manage"} <= {
        op.get("x-permission") for _, _, op in ops
    }


def test_every_protected_operation_refuses_anonymous_callers(
    api: httpx.Client, worlds: tuple[World, World]
) -> None:
    a, _ = worlds
    for operation in operations(api):
        response = call(api, operation, {}, a.tenant_id, a.ids)
        assert response.status_code == 401, (operation[:2], response.text)
        fake = {"Authorization": f"Bearer tnt_{uuid.uuid4().hex}"}
        assert call(api, operation, fake, a.tenant_id, a.ids).status_code == 401
