"""Feature flags and entitlements on the real platform: a flag rolls out by percentage, ring and
tenant list, an override wins, each feature a Tier lists is refused (403 naming the plans that
include it) until an override or a plan change, and a flag change reaches the running app plane
within seconds. Changes come from the API and the `tenantry flags` CLI, and are audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from tenantry_core import flags
from tests import oidc
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration
TENANTRY = Path(sys.executable).with_name("tenantry")


def cli(env: dict[str, str], token: str, *args: str) -> str:
    done = subprocess.run(
        [str(TENANTRY), "flags", *args],
        env={**os.environ, "KUBECONFIG": env["KUBECONFIG"], "TENANTRY_API_URL": env["API_URL"]}
        | {"TENANTRY_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture
def flag_key(api: httpx.Client, env: dict[str, str]) -> Iterator[str]:
    """A flag name of the test's own, deleted afterwards."""
    key = support.unique("flag")
    yield key
    api.delete(f"/flags/{key}", headers=support.admin(api, env))


def features(api: httpx.Client, env: dict[str, str], tenant_id: str) -> list[str]:
    seen = api.get(f"/tenants/{tenant_id}/entitlements", headers=support.admin(api, env))
    assert seen.status_code == 200, seen.text
    return list(seen.json()["features"])


def test_a_flag_rolls_out_by_percentage_ring_and_list_and_an_override_wins(
    api: httpx.Client, env: dict[str, str], flag_key: str
) -> None:
    admin = support.admin(api, env)
    token = admin["Authorization"].removeprefix("Bearer ")
    ids = [support.signup(api, support.unique(f"Rollout{n}"))["tenant"]["id"] for n in range(4)]

    def reached() -> set[str]:
        return {t for t in ids if flag_key in features(api, env, t)}

    assert reached() == set()  # no plan lists it and no flag names it yet
    cli(env, token, "set", flag_key, "--percentage", "10", "--description", "rollout test")
    expected = {t for t in ids if flags.bucket(flag_key, t) < 1000}
    assert reached() == expected  # the same stable hash as everywhere else
    cli(env, token, "set", flag_key, "--percentage", "100")
    assert reached() == set(ids)

    # Rings: internal, then beta, then all; a listed tenant is always reached.
    cli(env, token, "set", flag_key, "--percentage", "0", "--ring", "internal")
    assert reached() == set()
    cli(env, token, "ring", ids[0], "beta")
    assert reached() == set()
    cli(env, token, "set", flag_key, "--ring", "beta", "--tenant", ids[1])
    assert reached() == {ids[0], ids[1]}
    listed = json.loads(cli(env, token, "list", "--output", "json"))
    mine = next(f for f in listed if f["key"] == flag_key)
    assert (mine["ring"], mine["percentage"], mine["tenants"]) == ("beta", 0, [ids[1]])

    # An override wins over the flag both ways.
    cli(env, token, "set", flag_key, "--percentage", "100")
    cli(env, token, "revoke", ids[2], flag_key, "--reason", "opted out")
    assert reached() == {ids[0], ids[1], ids[3]}
    cli(env, token, "set", flag_key, "--disable")
    cli(env, token, "grant", ids[3], flag_key)
    assert reached() == {ids[3]}
    shown = json.loads(cli(env, token, "overrides", ids[2], "--output", "json"))
    assert [(o["feature"], o["enabled"], o["reason"]) for o in shown] == [
        (flag_key, False, "opted out")
    ]
    cli(env, token, "clear", ids[3], flag_key)
    assert reached() == set()

    # A tenant that does not exist is refused and changes nothing.
    ghost = api.put(
        f"/flags/{flag_key}",
        headers=admin,
        json={"tenants": ["00000000-0000-0000-0000-000000000000"]},
    )
    assert (ghost.status_code, ghost.json()["errors"][0]["loc"]) == (422, ["body", "tenants"])
    assert api.get(f"/flags/{flag_key}", headers=admin).json()["tenants"] == [ids[1]]

    # Platform admins only, and every change is audited.
    owner = support.signup(api, support.unique("Nosy"))
    assert api.put(f"/flags/{flag_key}", headers=support.auth(owner), json={}).status_code == 403
    actions = [
        e["action"]
        for e in api.get("/audit", headers=admin, params={"limit": 500}).json()["items"]
        if e["resource"] in (f"flag:{flag_key}", f"feature:{flag_key}")
    ]
    assert actions.count("flag.create") == 1
    assert actions.count("flag.update") == 5
    assert actions.count("feature.override") == 2
    assert actions.count("feature.override_remove") == 1


def entitlement_problem(response: httpx.Response, feature: str) -> set[str]:
    """The plans a 403 entitlement problem names (other tests' tiers may be among them)."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://tenantry.dev/problems/entitlement"
    assert problem["feature"] == feature
    assert all(plan in problem["detail"] for plan in problem["plans_with_feature"])
    assert problem["plan"] not in problem["plans_with_feature"]
    return set(problem["plans_with_feature"])


def test_every_listed_feature_is_enforced_until_an_override_or_a_plan_change(
    api: httpx.Client,
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    oidc_replica: httpx.Client,
    idp: tuple[str, Any],
) -> None:
    admin = support.admin(api, env)
    body = support.signup(api, support.unique("Gated"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    email = support.owner_email(body)
    support.login(api, email)  # an OIDC identity links to an account that proved itself
    support.verify_email(api, env, email)
    support.wait_ready(custom, body["tenant"]["slug"])
    sso = support.bearer(oidc.token(idp[1], email))

    def audit() -> httpx.Response:
        return api.get(f"/tenants/{tid}/audit", headers=owner)

    def export() -> httpx.Response:
        return app.get("/export", headers=owner)

    # The free plan has none of them: each is refused, naming the plans that include it.
    assert entitlement_problem(audit(), "audit-log") >= {"enterprise", "pro"}
    assert entitlement_problem(oidc_replica.get("/auth/me", headers=sso), "sso") >= {"enterprise"}
    assert entitlement_problem(export(), "export") >= {"enterprise", "pro", "standard"}
    assert export().json()["reason"] == "NOT_IN_PLAN"

    # An override grants one; the running app plane sees it within seconds.
    support.grant(api, env, tid, "audit-log")
    support.grant(api, env, tid, "export")
    assert audit().status_code == 200
    eventually(lambda: export().status_code == 200, timeout=5, what="export granted")
    for feature in ("audit-log", "export"):
        removed = api.delete(f"/tenants/{tid}/overrides/{feature}", headers=admin)
        assert removed.status_code == 204
    assert audit().status_code == 403
    eventually(lambda: export().status_code == 403, timeout=5, what="export withdrawn")

    # A plan that lists them: every one is allowed.
    tier = support.unique("complete")
    support.make_tier(custom, tier, features=["projects", "notes", "export", "audit-log", "sso"])
    support.set_tier(api, env, tid, tier)
    assert audit().status_code == 200
    me = oidc_replica.get("/auth/me", headers=sso)
    assert (me.status_code, me.json().get("tenant_id")) == (200, tid)
    eventually(lambda: export().status_code == 200, timeout=60, what="export on the new plan")

    # A flag switched off holds the feature back everywhere, within seconds; removed, it's back.
    switch = api.put("/flags/export", headers=admin, json={"enabled": False})
    assert switch.status_code == 200, switch.text
    try:
        eventually(lambda: export().status_code == 403, timeout=5, what="flag reached the app")
        assert export().json()["reason"] == "DISABLED"
    finally:
        assert api.delete("/flags/export", headers=admin).status_code == 204
    eventually(lambda: export().status_code == 200, timeout=5, what="flag removed in the app")
