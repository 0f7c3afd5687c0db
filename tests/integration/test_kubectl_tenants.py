"""Tenants made with kubectl join the registry; deleting one offboards it for good."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from kubernetes import client
from sqlalchemy import orm

from control_plane.core import config
from control_plane.workers import mirror
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def registry_row(db: psycopg.Connection[Any], slug: str) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT source, lifecycle, phase, placement, company, tier FROM tenants "
        "WHERE tenant_key = %s",
        (slug,),
    ).fetchone()


def test_kubectl_tenant_appears_in_registry(
    custom: client.CustomObjectsApi, control_db: psycopg.Connection[Any]
) -> None:
    name = support.unique("kubectl")
    support.create_tenant(custom, name, tier="standard", displayName=f"Kubectl {name}")
    support.wait_ready(custom, name)
    row = eventually(
        lambda: (r := registry_row(control_db, name)) and r[2] == "Ready" and r,
        what="registry row Ready",
    )
    assert row == ("kubernetes", "active", "Ready", "pool", f"Kubectl {name}", "standard")


def test_deleted_tenant_is_offboarding_and_not_resurrected(
    api: Any, custom: client.CustomObjectsApi, control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Leaver"))
    slug, tenant_id = body["tenant"]["slug"], body["tenant"]["id"]
    support.wait_ready(custom, slug)
    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", slug)
    eventually(lambda: support.get_tenant(custom, slug) is None, what="Tenant gone")
    row = eventually(
        lambda: (r := registry_row(control_db, slug)) and r[2] == "Deleted" and r,
        what="registry marks the deletion",
    )
    assert row[1] == "offboarding"

    # A pending intent for the tenant must not bring it back.
    control_db.execute(
        "INSERT INTO outbox (tenant_id, action) VALUES (%s, 'apply_tenant')", (tenant_id,)
    )
    eventually(
        lambda: (
            control_db.execute(
                "SELECT processed_at IS NOT NULL FROM outbox WHERE tenant_id = %s ORDER BY id DESC "
                "LIMIT 1",
                (tenant_id,),
            ).fetchone()
            == (True,)
        ),
        what="intent closed",
    )
    assert support.get_tenant(custom, slug) is None
    assert (
        api.get(f"/tenants/{tenant_id}", headers=support.auth(body)).json()["lifecycle"]
        == "offboarding"
    )


def test_invalid_tenant_is_refused_by_the_api_server(custom: client.CustomObjectsApi) -> None:
    with pytest.raises(client.ApiException) as refused:
        support.create_tenant(custom, support.unique("bad"), tier="free", deletionPolicy="Shred")
    assert refused.value.status == 422
    assert "deletionPolicy" in refused.value.body
    with pytest.raises(client.ApiException):
        support.create_tenant(custom, "Not_A_DNS_Name", tier="free")


def test_a_list_read_before_a_signup_does_not_offboard_it(
    api: httpx.Client, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mirror's relist can be read just before a signup creates its Tenant: the new tenant
    is missing from that list, yet it is not gone."""
    body = support.signup(api, support.unique("Inflight"))
    tenant_id, owner = body["tenant"]["id"], support.auth(body)
    monkeypatch.setenv("KUBECONFIG", env["KUBECONFIG"])
    monkeypatch.setenv("DATABASE_URL", env["DATABASE_URL"])
    config.get_settings.cache_clear()
    engine = sa.create_engine(env["DATABASE_URL"])
    try:
        with orm.sessionmaker(engine)() as session, session.begin():
            mirror.sync_tenant_list(session, [])  # listed before the signup's Tenant existed
    finally:
        engine.dispose()
        config.get_settings.cache_clear()
    assert api.get(f"/tenants/{tenant_id}", headers=owner).json()["lifecycle"] == "active"
