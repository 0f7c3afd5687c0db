"""Restores are validated before anything is written: only a backup the tenant's status lists
(422, with its backups), not while a move or restore is under way (409); a restore asked for
is pending until its stamp shows up in the migration or the move history. Literal tenants; the
session fails loudly if a refused restore touches it."""

from __future__ import annotations

from typing import Any

import pytest

from control_plane.services import backups, errors
from tests.unit.control_plane.services.test_placement import CTX, SESSION, tenant

MINE: dict[str, Any] = {"name": "acme-0123abcd-backup-20261124120000.dump", "time": "t", "rows": 3}


def restore(target: Any, backup: str) -> Any:
    return backups.request_restore(session=SESSION, ctx=CTX, tenant=target, backup=backup)


def test_a_backup_of_another_tenant_is_refused_with_the_tenants_own() -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        restore(tenant(backups=[MINE]), "other-9876fedc-backup-20261124120000.dump")
    assert refused.value.reason == "not a backup of this tenant"
    assert list(refused.value.allowed or []) == [MINE["name"]]


@pytest.mark.parametrize(
    "fields",
    [
        {"migration": {"phase": "Copying", "target": "silo"}},
        {"restore_request": {"backup": MINE["name"], "requested": "r1"}},
    ],
)
def test_no_restore_while_a_move_or_restore_is_under_way(fields: dict[str, Any]) -> None:
    with pytest.raises(errors.Conflict):
        restore(tenant(backups=[MINE], **fields), MINE["name"])


def test_a_restore_is_pending_until_its_stamp_is_seen() -> None:
    asked = {"backup": MINE["name"], "requested": "r1"}
    assert backups.restore_pending(tenant(restore_request=asked))
    running = {"phase": "Copying", "restoreRequested": "r1"}
    assert not backups.restore_pending(tenant(restore_request=asked, migration=running))
    ended = [{"result": "Completed", "restoreRequested": "r1"}]
    later = {"phase": "Completed", "target": "silo"}
    assert not backups.restore_pending(tenant(restore_request=asked, migration=later, moves=ended))
    assert not backups.restore_pending(tenant())
