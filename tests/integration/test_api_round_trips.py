"""What an authenticated read costs the control plane's database: one connection from the pool
and two statements (the caller with their tenant and role, the tenant's rate limit), the tenant
itself found in what authentication loaded (README, Figures). The app runs in this process
against the session platform's registry, so its statements can be counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from control_plane import main
from control_plane.core import config, db
from control_plane.services import tiers
from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.fixture
def in_process(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The control plane's app in this process, configured as the platform's (no lifespan: no
    background workers; an empty tier catalog, so the default rate limit applies) but without
    tracing: a tracer provider, once installed, stays for the rest of this worker's tests."""
    for name, value in env.items():
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    for cached in (config.get_settings, db.engine, db.session_factory):
        cached.cache_clear()
    app = main.create_app()
    app.state.tiers = tiers.TierCache([])
    app.state.dispatcher = None
    try:
        yield TestClient(app, base_url="http://testserver/api/v1")
    finally:
        db.engine().dispose()
        for cached in (config.get_settings, db.engine, db.session_factory):
            cached.cache_clear()


def test_an_authenticated_read_takes_one_connection_and_two_statements(
    api: httpx.Client, in_process: TestClient
) -> None:
    body = support.signup(api, support.unique("Roundtrips").replace("-", ""))
    url, headers = f"/tenants/{body['tenant']['id']}", support.auth(body)
    assert in_process.get(url, headers=headers).status_code == 200  # warm: imports, pool
    checkouts: list[object] = []
    statements: list[str] = []

    def checkout(*_: Any) -> None:
        checkouts.append(_)

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine(), "checkout", checkout)
    event.listen(db.engine(), "before_cursor_execute", executed)
    try:
        read = in_process.get(url, headers=headers)
    finally:
        event.remove(db.engine(), "checkout", checkout)
        event.remove(db.engine(), "before_cursor_execute", executed)
    assert read.status_code == 200, read.text
    assert read.json()["id"] == body["tenant"]["id"]
    assert "RateLimit-Remaining" in read.headers
    assert len(statements) == 2, "\n\n".join(s[:120] + " ... " + s[-60:] for s in statements)
    assert len(checkouts) == 1, statements
    assert "FROM users" in statements[0]
    assert "rate_limits" in statements[1]
