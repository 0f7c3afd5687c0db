"""A tenant name has exactly one owner, whichever side (signup or kubectl) claims it first.

The control plane creates its Tenants and never applies over, adopts or deletes one it did not
create; the mirror matches registry rows to Tenants by uid, never by a reusable name, mirrors
each Tenant on its own, and takes kubectl's changes to an API tenant into the registry.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from tenantry_core import identity, resources
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple"


def rows(db: psycopg.Connection[Any], key: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT id::text, source, lifecycle, cr_uid, company, tier, suspended FROM tenants "
        "WHERE tenant_key = %s ORDER BY created_at",
        (key,),
    ).fetchall()


def signup(api: httpx.Client, company: str, email: str) -> httpx.Response:
    return api.post(
        "/signup",
        json={"company": company, "email": email, "password": PASSWORD, "tier": "free"},
    )


def test_a_signup_for_a_name_a_kubectl_tenant_holds_is_refused_and_changes_nothing(
    api: httpx.Client, custom: client.CustomObjectsApi, control_db: psycopg.Connection[Any]
) -> None:
    company, display = support.unique("Initech"), support.unique("Admins")
    key = identity.from_company(company)
    # The attacker first takes the company names the mirror would give the admin's Tenant.
    for taken in (display, f"{display} ({key})"):
        assert signup(api, taken, f"{support.unique('m')}@example.com").status_code == 201
    made = support.create_tenant(custom, key, tier="standard", displayName=display)
    refused = signup(api, company, f"mallory@{key}.example.com")
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert display not in refused.text  # the holder's display name is not told
    held = support.get_tenant(custom, key)
    assert held is not None
    assert held["metadata"]["uid"] == made["metadata"]["uid"]
    assert held["spec"] == made["spec"]
    assert resources.LABEL_TENANT_ID not in (held["metadata"].get("labels") or {})
    mirrored = eventually(lambda: rows(control_db, key), what="the kubectl tenant's row")
    assert [(r[1], r[3]) for r in mirrored] == [("kubernetes", made["metadata"]["uid"])]
    assert control_db.execute(
        "SELECT count(*) FROM users WHERE email = %s", (f"mallory@{key}.example.com",)
    ).fetchone() == (0,)


def test_a_kubectl_tenant_whose_display_name_a_signup_holds_is_mirrored_and_blocks_nothing(
    api: httpx.Client, custom: client.CustomObjectsApi, control_db: psycopg.Connection[Any]
) -> None:
    company = support.unique("Hooli")
    support.signup(api, company)
    twin, after = support.unique("twin"), support.unique("after")
    support.create_tenant(custom, twin, tier="free", displayName=company)
    support.create_tenant(custom, after, tier="free")
    eventually(lambda: rows(control_db, twin), what="the twin's registry row")
    eventually(lambda: rows(control_db, after), what="the next tenant's registry row")
    [row] = rows(control_db, twin)
    assert (row[1], row[4]) == ("kubernetes", company)


def test_kubectl_changes_to_an_api_tenant_reach_the_registry_and_are_not_overwritten(
    api: httpx.Client, custom: client.CustomObjectsApi, control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Globex"))
    tid, key, owner = body["tenant"]["id"], body["tenant"]["slug"], support.auth(body)
    support.wait_ready(custom, key)
    custom.patch_cluster_custom_object(
        resources.GROUP,
        resources.VERSION,
        resources.TENANT_PLURAL,
        key,
        {"spec": {"tier": "standard", "displayName": "Globex by kubectl"}},
        field_manager="kubectl-patch",
    )
    seen = eventually(
        lambda: (t := api.get(f"/tenants/{tid}", headers=owner).json())["tier"] == "standard" and t,
        what="the registry takes the kubectl change",
    )
    assert seen["company"] == "Globex by kubectl"
    entry = eventually(
        lambda: control_db.execute(
            "SELECT actor, before, after FROM audit_log WHERE tenant_id = %s "
            "AND action = 'tenant.changed_in_kubernetes'",
            (tid,),
        ).fetchone(),
        what="the audit entry",
    )
    assert entry[0] == "kubernetes:kubectl-patch"
    assert entry[2] == {"tier": "standard", "company": "Globex by kubectl"}
    # An unrelated change through the API does not put the old tier back.
    renamed = api.patch(f"/tenants/{tid}", headers=owner, json={"company": f"{key} Renamed"})
    assert renamed.status_code == 200, renamed.text
    eventually(
        lambda: (
            (support.get_tenant(custom, key) or {}).get("spec", {}).get("displayName")
            == f"{key} Renamed"
        ),
        what="the rename on the Tenant",
    )
    assert (support.get_tenant(custom, key) or {})["spec"]["tier"] == "standard"


def test_a_name_re_created_with_kubectl_is_a_new_tenant_not_the_old_one(
    api: httpx.Client,
    custom: client.CustomObjectsApi,
    control_db: psycopg.Connection[Any],
) -> None:
    body = support.signup(api, support.unique("Umbrella"))
    tid, key = body["tenant"]["id"], body["tenant"]["slug"]
    email = f"owner@{body['tenant']['company'].lower()}.example.com"
    first = support.wait_ready(custom, key)
    support.delete_tenant(custom, key)
    eventually(lambda: rows(control_db, key)[0][2] == "offboarding", what="old row offboarding")
    again = support.create_tenant(custom, key, tier="free")
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    eventually(lambda: len(rows(control_db, key)) == 2, what="a second row")
    old, new = rows(control_db, key)
    assert (old[0], old[2], old[3]) == (tid, "offboarding", first["metadata"]["uid"])
    assert (new[1], new[2], new[3]) == ("kubernetes", "active", again["metadata"]["uid"])
    # The old tenant's users do not come back with the name.
    refused = api.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 401, refused.text
    support.delete_tenant(custom, key)
