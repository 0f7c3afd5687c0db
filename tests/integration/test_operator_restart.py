"""The operator may be down at any time: what happened meanwhile converges when it is back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


@pytest.fixture
def operator_down(platform: stack.Platform) -> Iterator[None]:
    platform.stop_operator()
    try:
        yield
    finally:
        if "operator" not in platform.processes:
            platform.start_operator()


@pytest.mark.slow
def test_changes_while_the_operator_is_down_converge(
    platform: stack.Platform,
    operator_down: None,
    custom: client.CustomObjectsApi,
    pool_admin: psycopg.Connection[Any],
) -> None:
    leaving = support.unique("leaving")
    platform.start_operator()
    support.create_tenant(custom, leaving, tier="free", deletionPolicy="Delete")
    support.wait_ready(custom, leaving)
    platform.stop_operator()

    arriving = support.unique("arriving")
    support.create_tenant(custom, arriving, tier="free")
    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", leaving)
    # The finalizer holds the deletion until the operator has offboarded the data.
    held = support.get_tenant(custom, leaving)
    assert held is not None
    assert held["metadata"]["deletionTimestamp"]
    assert support.get_tenant(custom, arriving).get("status") is None  # type: ignore[union-attr]

    platform.start_operator()
    support.wait_ready(custom, arriving)
    eventually(lambda: support.get_tenant(custom, leaving) is None, what="deletion completed")
    role = "tnt_" + leaving.replace("-", "_")
    assert (
        pool_admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None
    )
