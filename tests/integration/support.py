"""Helpers for integration tests: Tenant resources, conditions, events, signups."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from localplatform import mailsink
from tenantry_core import identity, resources, scopes, tokens
from tests.conftest import eventually

GROUP, VERSION = resources.GROUP, resources.VERSION


# The suite signs up from 127.0.0.1 far faster than a person would: its control plane allows
# more signups a minute than the defaults (30 per client address, 120 from all).
SIGNUP_LIMITS = {"SIGNUP_PER_CLIENT_PER_MINUTE": "200", "SIGNUP_GLOBAL_PER_MINUTE": "600"}


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


def create_tenant(
    custom: client.CustomObjectsApi,
    name: str,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Tenant",
        "metadata": {"name": name, **({"labels": labels} if labels else {})},
        "spec": spec,
    }
    return dict(custom.create_cluster_custom_object(GROUP, VERSION, "tenants", body))


def restore_tenant(
    custom: client.CustomObjectsApi, name: str, snapshot: str, *, tier: str = "free"
) -> dict[str, Any]:
    """A Tenant restored from another Tenant's snapshot, as a platform admin allows it."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Tenant",
        "metadata": {
            "name": name,
            "annotations": {resources.ANNOTATION_RESTORE_FROM_ANY: "true"},
        },
        "spec": {"tier": tier, "restoreFrom": snapshot},
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


def token_for(env: dict[str, str], tenant_key: str) -> dict[str, str]:
    """Auth headers of an owner of a tenant made with kubectl (which has no users): once the
    mirror has recorded the tenant, the platform admin invites one, who accepts."""
    remember_maildir(env)
    with httpx.Client(base_url=env["API_URL"] + "/api/v1", timeout=30) as api:
        headers = admin(api, env)

        def registered() -> str | None:
            page = api.get("/tenants", params={"q": tenant_key}, headers=headers).json()
            found = [
                t["id"]
                for t in page["items"]
                if t["slug"] == tenant_key and t["lifecycle"] == "active"
            ]
            return found[-1] if found else None

        tenant_id = eventually(registered, what=f"registry row of {tenant_key}")
        email = f"owner-{uuid.uuid4().hex[:8]}@{tenant_key}.example.com"
        return join(api, tenant_id, headers, "owner", email)


def every_page(app: httpx.Client, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of an app-plane list, following its `Link: rel="next"` pages."""
    items: list[dict[str, Any]] = []
    url: str | None = path
    while url:
        page = app.get(url, params={"limit": 1000} if url == path else None, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()
        url = page.links.get("next", {}).get("url")
    return items


def minted_token(env: dict[str, str], tenant_key: str) -> dict[str, str]:
    """Auth headers with a token signed as the control plane would, for a user the registry
    does not know: only a silo tenant's dedicated app, which checks tokens alone, accepts it."""
    import datetime as dt

    from control_plane.core import security

    principal = tokens.Principal(
        uuid.uuid4(),
        uuid.uuid4(),
        identity.TenantKey(tenant_key),
        "owner",
        frozenset(scopes.ALL),
    )
    token = security.create_access_token(
        principal,
        signing_key=env["JWT_PRIVATE_KEY"],
        issuer="tenantry",
        audience="tenantry",
        expires=dt.timedelta(minutes=10),
    )
    return {"Authorization": f"Bearer {token}"}


def patch_tenant(custom: client.CustomObjectsApi, name: str, **spec: Any) -> None:
    custom.patch_cluster_custom_object(GROUP, VERSION, "tenants", name, {"spec": spec})


def delete_tenant(custom: client.CustomObjectsApi, name: str) -> None:
    custom.delete_cluster_custom_object(GROUP, VERSION, "tenants", name)
    eventually(lambda: get_tenant(custom, name) is None, timeout=60, what=f"{name} deleted")


def wait_phase(
    custom: client.CustomObjectsApi, name: str, phase: str, timeout: float = 30
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        tenant = get_tenant(custom, name)
        status = (tenant or {}).get("status") or {}
        current = status.get("observedGeneration") == (tenant or {}).get("metadata", {}).get(
            "generation"
        )
        return tenant if current and status.get("phase") == phase else None

    return eventually(reached, timeout=timeout, what=f"{name} {phase}")


def secret_url(core: client.CoreV1Api, name: str) -> str:
    import base64

    secret = core.read_namespaced_secret("tenant-db", f"tenant-{name}")
    return base64.b64decode(secret.data["url"]).decode()


def pod_urls(core: client.CoreV1Api, namespace: str) -> list[str]:
    """URLs of the app-plane pods the simulated node runs in `namespace`."""
    found = core.list_namespaced_pod(namespace)
    return [
        p.metadata.annotations["sim.tenantry.dev/url"]
        for p in found.items
        if p.metadata.annotations
        and "sim.tenantry.dev/url" in p.metadata.annotations
        and not p.metadata.deletion_timestamp
    ]


def make_tier(custom: client.CustomObjectsApi, name: str, **spec: Any) -> None:
    """A Tier of the test's own (pool isolation unless `isolation` says otherwise)."""
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Tier",
        "metadata": {"name": name},
        "spec": {"isolation": "pool", **spec},
    }
    custom.create_cluster_custom_object(GROUP, VERSION, "tiers", body)


# -- the control-plane API as its different callers ----------------------------------------------
PASSWORD = "correct horse battery staple"


@contextmanager
def client_at(env: dict[str, str], address: str) -> Iterator[httpx.Client]:
    """A client of the API whose connections come from `address` (a loopback address): a test
    of per-address limits gets an address of its own."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=env["API_URL"] + "/api/v1", timeout=30, transport=transport) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(api: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = api.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


_ADMIN_TOKENS: dict[str, tuple[float, dict[str, str]]] = {}  # by API URL: (signed in, headers)


def admin(api: httpx.Client, env: dict[str, str]) -> dict[str, str]:
    """Headers of the platform admin the control plane created at start-up. One sign-in serves
    for five minutes: the suite's sign-ins all come from one address, whose attempts a minute
    are limited like anyone's."""
    signed_in, headers = _ADMIN_TOKENS.get(env["API_URL"], (0.0, {}))
    if time.monotonic() - signed_in > 300:
        body = login(api, env["FIRST_PLATFORM_ADMIN_EMAIL"], env["FIRST_PLATFORM_ADMIN_PASSWORD"])
        headers = bearer(body["access_token"])
        _ADMIN_TOKENS[env["API_URL"]] = (time.monotonic(), headers)
    return headers


def join(
    api: httpx.Client, tenant_id: str, owner: dict[str, str], role: str, email: str
) -> dict[str, str]:
    """Invite `email` with `role` as the owner, accept with the mailed token, and return the
    new user's headers."""
    invited = api.post(
        f"/tenants/{tenant_id}/invitations", headers=owner, json={"email": email, "role": role}
    )
    assert invited.status_code == 201, invited.text
    token = invitation_token(api, email)
    accepted = api.post("/invitations/accept", json={"token": token, "password": PASSWORD})
    assert accepted.status_code == 201, accepted.text
    return bearer(accepted.json()["access_token"])


def set_tier(api: httpx.Client, env: dict[str, str], tenant_id: str, tier: str) -> None:
    """Move a tenant to `tier` as the platform admin, once the tier is in the catalog."""
    eventually(
        lambda: any(t["name"] == tier for t in api.get("/tiers").json()), what=f"tier {tier}"
    )
    moved = api.patch(f"/tenants/{tenant_id}", headers=admin(api, env), json={"tier": tier})
    assert moved.status_code == 200, moved.text


def grant(api: httpx.Client, env: dict[str, str], tenant_id: str, feature: str) -> None:
    """Give a tenant a feature its plan lacks (an override, as the platform admin)."""
    granted = api.put(
        f"/tenants/{tenant_id}/overrides/{feature}",
        headers=admin(api, env),
        json={"enabled": True, "reason": "test"},
    )
    assert granted.status_code == 200, granted.text


# -- mail, through the platform's SMTP sink -------------------------------------------------------
def owner_email(body: dict[str, Any]) -> str:
    """The owner's email of a `signup` answer."""
    return f"owner@{body['tenant']['company'].lower()}.example.com"


# The Maildirs of the platforms this test process runs (`remember_maildir`), where `join` looks
# for the invitation it mails: addresses are unique per test, so one search finds it.
MAILDIRS: set[Path] = set()


def remember_maildir(env: dict[str, str]) -> None:
    """Let `invitation_token` find the mails of the platform `env` describes."""
    MAILDIRS.add(Path(env["TENANTRY_MAILDIR"]))


def _mailed(maildir: Path, email: str) -> list[Any]:
    return mailsink.messages(maildir, to=email) if maildir.exists() else []


def _token(message: Any, prefix: str = "") -> str | None:
    found = re.search(rf"[?&]token=({prefix}[A-Za-z0-9_\-]+)", mailsink.text(message))
    return found.group(1) if found else None


def mailed_token(env: dict[str, str], email: str, *, after: int = 0) -> str:
    """The token of the verification link in the newest mail to `email`, once more than `after`
    mails reached it."""
    maildir = Path(env["TENANTRY_MAILDIR"])

    def arrived() -> list[Any] | None:
        found = _mailed(maildir, email)
        return found if len(found) > after else None

    newest = eventually(arrived, what=f"mail number {after + 1} to {email}")[-1]
    token = _token(newest)
    assert token, mailsink.text(newest)
    return token


def invitation_token(api: httpx.Client, email: str, *, after: int = 0) -> str:
    """The token of the newest invitation link mailed to `email` (by the platform `api` talks
    to: a remembered one), once more than `after` invitations reached it (other mails to it are
    not counted)."""
    assert MAILDIRS, f"no platform's Maildir is known to find {email}'s invitation in"

    def arrived() -> list[str] | None:
        mails = [m for maildir in sorted(MAILDIRS) for m in _mailed(maildir, email)]
        found = [t for t in (_token(m, "inv_") for m in mails) if t]
        return found if len(found) > after else None

    return eventually(arrived, what=f"invitation number {after + 1} to {email}")[-1]


def verify_email(api: httpx.Client, env: dict[str, str], email: str) -> dict[str, Any]:
    """Open the verification link mailed to `email` (its newest)."""
    verified = api.post("/auth/verify-email", json={"token": mailed_token(env, email)})
    assert verified.status_code == 200, verified.text
    return dict(verified.json())


def wait_tier(custom: client.CustomObjectsApi, name: str, tier: str) -> dict[str, Any]:
    """The Tenant once its spec names `tier` and the operator has reconciled it, Ready, with no
    live move under way (a moving tenant is Ready: it serves from the source meanwhile)."""

    def reached() -> dict[str, Any] | None:
        tenant = get_tenant(custom, name) or {}
        status = tenant.get("status") or {}
        current = status.get("observedGeneration") == tenant.get("metadata", {}).get("generation")
        ready = condition(tenant).get("status") == "True"
        moving = condition(tenant, "Migrating").get("status") == "True"
        named = tenant.get("spec", {}).get("tier") == tier
        return tenant if named and current and ready and not moving else None

    return eventually(reached, timeout=90, what=f"{name} Ready on {tier}")


def wait_processed(control_db: Any, entry_id: int) -> None:
    """Until the outbox entry `entry_id` was carried out."""
    eventually(
        lambda: control_db.execute(
            "SELECT processed_at IS NOT NULL FROM outbox WHERE id = %s", (entry_id,)
        ).fetchone()
        == (True,),
        what=f"outbox entry {entry_id} processed",
    )
