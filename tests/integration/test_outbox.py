"""The outbox keeps a signup's intent until the API server takes it, applying it exactly once;
an entry that always fails becomes a dead letter without blocking the others, and platform admins
see dead letters (API, metric) and retry them (audited)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client
from prometheus_client import parser
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from control_plane import models, prestart
from control_plane.core import config, db
from control_plane.integrations import kube
from control_plane.services import outbox as outbox_service
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
    cached = (config.get_settings, db.engine, db.session_factory)  # none left from another test
    for function in cached:
        function.cache_clear()
    prestart.main()
    yield url
    db.engine().dispose()
    for function in cached:
        function.cache_clear()


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


def test_an_entry_that_always_fails_goes_dead_without_blocking_later_ones(
    own_registry: str, custom: client.CustomObjectsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTBOX_MAX_ATTEMPTS", "3")
    config.get_settings.cache_clear()
    engine = create_engine(own_registry)
    sessions = sessionmaker(engine, expire_on_commit=False)
    control_db = psycopg.connect(own_registry.replace("+psycopg", ""), autocommit=True)
    bad_id, bad_key = uuid.uuid4(), support.unique("bad")
    others = {uuid.uuid4(): support.unique("after") for _ in range(2)}
    with sessions() as session, session.begin():
        session.add(uncreated(bad_id, bad_key, company=bad_key))
        for tenant_id, key in others.items():
            session.add(uncreated(tenant_id, key, company=key))
    with sessions() as session, session.begin():  # the bad entry first in the queue
        session.add(models.OutboxEntry(tenant_id=bad_id, action="no_such_action"))
    with sessions() as session, session.begin():
        for tenant_id in others:
            session.add(models.OutboxEntry(tenant_id=tenant_id, action="apply_tenant"))

    def state() -> tuple[Any, ...]:
        return control_db.execute(
            "SELECT attempts, last_error, processed_at IS NULL, dead_at IS NOT NULL, "
            "next_attempt_at > now() FROM outbox WHERE tenant_id = %s",
            (bad_id,),
        ).fetchone()  # type: ignore[return-value]

    assert outbox.dispatch_once(sessions, field_manager="test") == 3
    error = "UnknownAction: unknown action 'no_such_action'"
    assert state() == (1, error, True, False, True)  # retried later, with backoff
    for tenant_id, key in others.items():  # the entries behind it were carried out
        done = control_db.execute(
            "SELECT processed_at IS NOT NULL FROM outbox WHERE tenant_id = %s", (tenant_id,)
        ).fetchone()
        assert done == (True,)
        applied = support.get_tenant(custom, key)
        assert applied is not None
        assert applied["metadata"]["labels"]["tenantry.dev/tenant-id"] == str(tenant_id)
    for attempt in (2, 3):
        control_db.execute(
            "UPDATE outbox SET next_attempt_at = now() WHERE tenant_id = %s", (bad_id,)
        )
        assert outbox.dispatch_once(sessions, field_manager="test") == 1
        assert state()[:4] == (attempt, error, True, attempt == 3)
    control_db.execute("UPDATE outbox SET next_attempt_at = now() WHERE tenant_id = %s", (bad_id,))
    assert outbox.dispatch_once(sessions, field_manager="test") == 0  # dead: never claimed again
    with sessions() as session:
        dead = outbox_service.query(session=session, state=models.OutboxState.DEAD)
        pending = outbox_service.query(session=session, state=models.OutboxState.PENDING)
        assert [e.tenant_id for e in dead] == [bad_id]
        assert pending == []
        assert outbox_service.stats(session=session)["dead"][0] == 1
    for key in others.values():
        custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", key)
    engine.dispose()
    control_db.close()


def test_platform_admins_see_and_retry_dead_letters_with_a_metric_and_an_audit_entry(
    api: httpx.Client, env: dict[str, str], control_db: psycopg.Connection[Any]
) -> None:
    signed_up = support.signup(api, support.unique("Deadletter"))
    tenant_id = signed_up["tenant"]["id"]
    # A dead letter as the dispatcher leaves one: an apply that failed every attempt.
    (entry_id,) = control_db.execute(
        "INSERT INTO outbox (tenant_id, action, attempts, last_error, dead_at) "
        "VALUES (%s, 'apply_tenant', 10, 'connection refused', now()) RETURNING id",
        (tenant_id,),
    ).fetchone()  # type: ignore[misc]
    admin = support.admin(api, env)

    def every(state: str) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            params: dict[str, str | int] = {"state": state, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/outbox", headers=admin, params=params)
            assert page.status_code == 200, page.text
            items += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return items

    dead = every("dead")
    assert [e["id"] for e in dead] == sorted({e["id"] for e in dead})  # pages: oldest first
    mine = next(e for e in dead if e["id"] == entry_id)
    assert (mine["tenant_id"], mine["attempts"], mine["last_error"]) == (
        tenant_id,
        10,
        "connection refused",
    )
    assert entry_id not in {e["id"] for e in every("pending")}
    bad_state = api.get("/outbox", headers=admin, params={"state": "lost"})
    assert bad_state.status_code == 422
    assert bad_state.headers["content-type"].startswith("application/problem+json")

    metrics = httpx.get(env["API_URL"] + "/metrics", timeout=10).text
    parsed = {
        (s.name, s.labels.get("state")): s.value
        for family in parser.text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name.startswith("tenantry_outbox")
    }
    assert parsed[("tenantry_outbox_entries", "dead")] >= 1
    assert parsed[("tenantry_outbox_oldest_age_seconds", "dead")] >= 0
    assert ("tenantry_outbox_entries", "pending") in parsed

    owner = support.auth(signed_up)
    refused = api.post(f"/outbox/{entry_id}/retry", headers=owner)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    retried = api.post(f"/outbox/{entry_id}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["attempts"], retried.json()["dead_at"]) == (0, None)
    # The running dispatcher carries it out now: the Tenant is applied again (idempotent).
    support.wait_processed(control_db, entry_id)
    again = api.post(f"/outbox/{entry_id}/retry", headers=admin)
    assert again.status_code == 409
    assert again.json()["detail"] == f"outbox entry {entry_id} is processed"
    missing = api.post("/outbox/2147483000/retry", headers=admin)
    assert missing.status_code == 404
    audited = api.get("/audit", headers=admin, params={"action": "outbox.retry"}).json()["items"]
    entry = next(a for a in audited if a["resource"] == f"outbox:{entry_id}")
    assert entry["tenant_id"] == tenant_id
    assert entry["before"] == {"attempts": 10, "last_error": "connection refused"}
