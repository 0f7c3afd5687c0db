"""The outbox keeps a signup's intent until the API server takes it, applying it exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from kubernetes import client
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from control_plane import models, prestart
from control_plane.core import config
from control_plane.integrations import kube
from control_plane.workers import outbox
from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.fixture
def own_registry(
    env: dict[str, str], platform: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A registry database of this test's own, so the running control plane's dispatcher
    does not take the entries this test drives by hand."""
    name = support.unique("registry").replace("-", "_")
    platform.pg.create_database(name)
    url = env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("KUBECONFIG", str(platform.kubeconfig))
    config.get_settings.cache_clear()
    prestart.main()
    yield url
    config.get_settings.cache_clear()


def uncreated(tenant_id: uuid.UUID, key: str, *, company: str) -> models.Tenant:
    """A signup's registry row whose Tenant was never created (no uid recorded)."""
    return models.Tenant(
        id=tenant_id,
        tenant_key=key,
        company=company,
        tier="free",
        source="signup",
        lifecycle="active",
        phase="Pending",
        conditions=[],
        cr_uid=None,
    )


def test_intent_survives_an_unreachable_api_server(
    own_registry: str, custom: client.CustomObjectsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(own_registry)
    sessions = sessionmaker(engine, expire_on_commit=False)
    control_db = psycopg.connect(own_registry.replace("+psycopg", ""), autocommit=True)
    slug = support.unique("outage")
    tenant_id = uuid.uuid4()
    # A tenant written by a control plane whose workers are not running (no dispatcher races us).
    with sessions() as session, session.begin():
        session.add(uncreated(tenant_id, slug, company=slug))
    with sessions() as session, session.begin():
        session.add(models.OutboxEntry(tenant_id=tenant_id, action="apply_tenant"))

    def api_server_down(*_: Any, **__: Any) -> dict[str, Any]:
        raise kube.KubeUnavailable("connection refused")

    with monkeypatch.context() as down:
        down.setattr(kube, "apply_tenant", api_server_down)
        assert outbox.dispatch_once(sessions, field_manager="test") == 1
    attempts, error, done, due = control_db.execute(
        "SELECT attempts, last_error, processed_at, next_attempt_at > now() FROM outbox "
        "WHERE tenant_id = %s",
        (tenant_id,),
    ).fetchone()  # type: ignore[misc]
    assert (attempts, error, done, due) == (1, "connection refused", None, True)
    assert support.get_tenant(custom, slug) is None

    control_db.execute(
        "UPDATE outbox SET next_attempt_at = now() WHERE tenant_id = %s", (tenant_id,)
    )
    assert outbox.dispatch_once(sessions, field_manager="test") == 1
    assert control_db.execute(
        "SELECT processed_at IS NOT NULL, last_error FROM outbox WHERE tenant_id = %s", (tenant_id,)
    ).fetchone() == (True, None)
    resource = support.wait_ready(custom, slug)
    assert resource["metadata"]["labels"]["tenantry.dev/tenant-id"] == str(tenant_id)
    assert outbox.dispatch_once(sessions, field_manager="test") == 0  # nothing applied twice
    engine.dispose()
    control_db.close()


def test_a_tenant_of_the_same_name_made_by_someone_else_is_never_applied_over_nor_deleted(
    own_registry: str, custom: client.CustomObjectsApi
) -> None:
    engine = create_engine(own_registry)
    sessions = sessionmaker(engine, expire_on_commit=False)
    control_db = psycopg.connect(own_registry.replace("+psycopg", ""), autocommit=True)
    name, tenant_id = support.unique("taken"), uuid.uuid4()
    theirs = support.create_tenant(custom, name, tier="standard", displayName="Theirs")
    with sessions() as session, session.begin():
        session.add(uncreated(tenant_id, name, company="Mine"))
        session.add(models.OutboxEntry(tenant_id=tenant_id, action="apply_tenant"))
    assert outbox.dispatch_once(sessions, field_manager="test") == 1
    done, error = control_db.execute(
        "SELECT processed_at IS NOT NULL, last_error FROM outbox WHERE tenant_id = %s",
        (tenant_id,),
    ).fetchone()  # type: ignore[misc]
    assert done
    assert error.startswith("not applied: a Tenant named")
    held = support.get_tenant(custom, name)
    assert held is not None
    assert held["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert held["spec"] == theirs["spec"]
    assert "tenantry.dev/tenant-id" not in (held["metadata"].get("labels") or {})

    # Deleting ours deletes only ours: a row that knows another uid leaves this Tenant alone.
    control_db.execute(
        "UPDATE tenants SET cr_uid = %s WHERE id = %s", (str(uuid.uuid4()), tenant_id)
    )
    with sessions() as session, session.begin():
        session.add(models.OutboxEntry(tenant_id=tenant_id, action="delete_tenant"))
    assert outbox.dispatch_once(sessions, field_manager="test") == 1
    assert (support.get_tenant(custom, name) or {}).get("metadata", {}).get("uid") == theirs[
        "metadata"
    ]["uid"]
    support.delete_tenant(custom, name)
    engine.dispose()
