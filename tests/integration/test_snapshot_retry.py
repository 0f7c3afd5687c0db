"""A retried Snapshot deletion never overwrites a good snapshot: the operator is killed after the
dump (before the data is deleted) or after the deletion (before the finalizer is released), and
the retry keeps the archive it wrote first, which restores every row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kubernetes import client

from localplatform import stack
from tests.conftest import eventually
from tests.integration import support
from tests.integration import test_offboarding_migration as offboarding

pytestmark = [pytest.mark.integration, pytest.mark.slow]
STEP_PAUSE = {"TENANTRY_OFFBOARD_STEP_PAUSE": "3"}


@pytest.fixture
def pausing_operator(platform: stack.Platform) -> Iterator[stack.Platform]:
    """An operator that pauses after each offboarding step, so a test can kill it there."""
    platform.stop_operator()
    platform.start_operator(STEP_PAUSE)
    try:
        yield platform
    finally:
        platform.stop_operator()
        platform.start_operator()


def manifest(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("killed_after", ["dump", "deletion"])
def test_a_retried_snapshot_keeps_the_first_archive(
    killed_after: str,
    pausing_operator: stack.Platform,
    custom: client.CustomObjectsApi,
    env: dict[str, str],
    pool_admin: psycopg.Connection[Any],
) -> None:
    name = support.unique("snapretry")
    support.create_tenant(custom, name, tier="free", deletionPolicy="Snapshot")
    uid = support.wait_ready(custom, name)["metadata"]["uid"]
    offboarding.seed(pool_admin, name)
    written = Path(env["TENANTRY_SNAPSHOT_DIR"]) / f"{name}-{uid[:8]}.json"

    custom.delete_cluster_custom_object(support.GROUP, support.VERSION, "tenants", name)
    first = eventually(lambda: manifest(written), what="the snapshot's manifest")
    if killed_after == "deletion":
        eventually(lambda: offboarding.pool_rows(pool_admin, name) == 0, what="rows deleted")
    pausing_operator.kill_operator()
    assert support.get_tenant(custom, name) is not None, "killed before the finalizer went"
    pausing_operator.start_operator(STEP_PAUSE)
    eventually(lambda: support.get_tenant(custom, name) is None, timeout=60, what="deleted")

    assert manifest(written) == first, "the retry kept the first snapshot"
    assert first["rows"] == {"notes": 1, "projects": 1}
    archive = written.with_suffix(".dump")
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == first["sha256"]
    assert offboarding.pool_rows(pool_admin, name) == 0

    restored = support.unique("snaprestored")
    support.restore_tenant(custom, restored, archive.name)
    assert support.wait_ready(custom, restored)["status"]["restoredFrom"] == archive.name
    assert offboarding.pool_rows(pool_admin, restored) == 2
    support.delete_tenant(custom, restored)
