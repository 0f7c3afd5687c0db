"""409 conflicts on a Tenant the operator is reconciling: another client keeps writing it with a
resourceVersion it read a while ago (each such write is refused with 409) and, as a field
manager of its own, keeps changing an annotation and setting `status.phase` wrong. The Tenant
is created and moved pool → silo meanwhile: it converges, its status ends correct once the other
client stops, and the operator logs no ERROR about it."""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from localplatform import services, stack
from tenantry_core import resources
from tests.conftest import eventually
from tests.integration import support
from tests.integration import test_offboarding_migration as offboarding

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MANAGER = "tenantry-test-competitor"
REREAD = 20  # the competitor's writes between two reads of the Tenant: its version goes stale


@dataclass
class Competitor:
    """Another client of one Tenant, writing it in a thread of its own until `finish()`."""

    custom: client.CustomObjectsApi
    name: str
    conflicts: int = 0  # writes refused with 409
    applied: int = 0  # writes that went through
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
            assert not self.thread.is_alive(), "the competitor did not stop"

    def _write(self, call: Any, *args: Any, **kwargs: Any) -> None:
        try:
            call(support.GROUP, support.VERSION, "tenants", self.name, *args, **kwargs)
        except client.ApiException as exc:
            if exc.status != 409:
                self.errors.append(f"{exc.status} {exc.reason}")
            self.conflicts += exc.status == 409
        else:
            self.applied += 1

    def run(self) -> None:
        stale: dict[str, Any] | None = None
        number = 0
        while not self.stop.is_set():
            if number % REREAD == 0:
                stale = support.get_tenant(self.custom, self.name)
            number += 1
            if stale is None:
                continue
            # Optimistic writes of an old read: refused (409) once anyone else wrote since.
            body = copy.deepcopy(stale)
            body["metadata"].setdefault("annotations", {})[f"{MANAGER}/stale"] = str(number)
            self._write(self.custom.replace_cluster_custom_object, body)
            self._write(self.custom.replace_cluster_custom_object_status, copy.deepcopy(stale))
            # A field manager of its own: an annotation of its own, and a wrong status.phase.
            apply = {
                "apiVersion": stale["apiVersion"],
                "kind": stale["kind"],
                "metadata": {"name": self.name, "annotations": {f"{MANAGER}/n": str(number)}},
            }
            self._write(
                self.custom.patch_cluster_custom_object,
                apply,
                field_manager=MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
            )
            if number % 5 == 0:
                self._write(
                    self.custom.patch_cluster_custom_object_status,
                    {**apply, "status": {"phase": "Failed"}},
                    field_manager=MANAGER,
                    force=True,
                    _content_type="application/apply-patch+yaml",
                )
            self.stop.wait(0.02)


def operator_errors(log: Path, offset: int, name: str) -> list[str]:
    """The operator's log lines at ERROR or worse since `offset` that concern `name`."""
    with log.open("rb") as lines:
        lines.seek(offset)
        found = []
        for line in lines.read().decode(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = {"severity": "error" if "Traceback" in line else "", "message": line}
            if record.get("severity") in ("error", "fatal") and name in line:
                found.append(line)
    return found


def correct(custom: client.CustomObjectsApi, name: str) -> dict[str, Any] | None:
    """The Tenant when its whole status is the operator's again: Ready on the silo, current."""
    tenant = support.get_tenant(custom, name) or {}
    status = tenant.get("status") or {}
    migration = status.get("migration") or {}
    ok = (
        status.get("phase") == "Ready"
        and support.condition(tenant).get("status") == "True"
        and status.get("placement") == "silo"
        and (migration.get("phase"), migration.get("target")) == ("Completed", "silo")
        and status.get("observedGeneration") == tenant["metadata"]["generation"]
    )
    return tenant if ok else None


def test_conflicting_writers_do_not_stop_convergence(
    platform: stack.Platform, custom: client.CustomObjectsApi, env: dict[str, str]
) -> None:
    log = platform.supervisor.log_dir / f"{services.OPERATOR}.log"
    offset = log.stat().st_size
    name = support.unique("conflict")
    support.create_tenant(custom, name, tier="free", deletionPolicy="Delete")
    competitor = Competitor(custom, name)
    competitor.start()
    try:
        eventually(
            lambda: support.condition(support.get_tenant(custom, name)).get("status") == "True",
            timeout=60,
            what=f"{name} Ready while another client writes it",
        )
        support.patch_tenant(custom, name, tier="enterprise")
        eventually(
            lambda: offboarding.moved(custom, name, "silo"), timeout=90, what=f"{name} on silo"
        )
    finally:
        competitor.finish()
    assert competitor.errors == []
    assert competitor.conflicts >= 20, competitor
    assert competitor.applied >= 20, competitor

    # The competitor's last wrong phase lasts at most until the tenant's next resync.
    tenant = eventually(
        lambda: correct(custom, name), timeout=30, what=f"{name}'s status correct again"
    )
    assert resources.FINALIZER in tenant["metadata"]["finalizers"], "deletion waits for offboarding"
    assert operator_errors(log, offset, name) == []
    support.delete_tenant(custom, name)
    assert offboarding.inventory(env, name).databases == frozenset()
