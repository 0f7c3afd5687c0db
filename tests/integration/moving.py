"""Helpers for live-move tests (`test_migration`, `test_moves`): a writer and reader that keeps
using a tenant through the app plane while it moves, a tier change awaited to its end, and the
checks that nothing was lost and nothing of the move was left behind."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

PLACEMENT = {"enterprise": "silo", "pro": "bridge", "free": "pool"}  # by the default Tiers
SEEDED = 50  # notes a writer's tenant has before it starts


@dataclass
class Writer:
    """Writes notes through the app plane one after another, reads each back, and remembers
    what was acknowledged; in a thread of its own from `start()` to `finish()`."""

    app: httpx.Client
    headers: dict[str, str]
    project: str
    acked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reads: int = 0
    read_back: bool = True  # read each note back; else list the projects (a restore drops notes)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        """Stop writing and wait until the last write was answered: `acked` is then final."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
            assert not self.thread.is_alive(), "the writer did not stop"

    def writes_flow(self, count: int = 10) -> None:
        """Wait until `count` more writes are acknowledged (or one failed: the test says which)."""
        target = len(self.acked) + count
        eventually(
            lambda: len(self.acked) >= target or self.errors,
            what=f"{count} more acknowledged writes",
        )

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            try:
                made = self.app.post(
                    f"/projects/{self.project}/notes",
                    json={"title": f"w{number}"},
                    headers=self.headers,
                )
                if made.status_code == 201:
                    self.acked.append(made.json()["id"])
                else:
                    self.errors.append(f"{made.status_code} {made.text}")
                if not self.read_back:
                    read = self.app.get("/projects", headers=self.headers)
                elif self.acked:
                    read = self.app.get(f"/notes/{self.acked[-1]}", headers=self.headers)
                else:
                    read = None
                if read is not None and read.status_code != 200:
                    self.errors.append(f"read {read.status_code} {read.text}")
                self.reads += 1
            except httpx.HTTPError as exc:
                self.errors.append(repr(exc))
            self.stop.wait(0.005)  # the writer's pace: its workload, not a wait for anything


def start_writer(
    app: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    *,
    prefix: str = "mover",
    tier: str = "free",
    policy: str = "Delete",
) -> tuple[str, Writer]:
    """A new Ready tenant with a project of `SEEDED` notes, and a running writer on it."""
    name = support.unique(prefix)
    support.create_tenant(custom, name, tier=tier, deletionPolicy=policy)
    support.wait_ready(custom, name)
    headers = support.token_for(env, name)
    project = app.post("/projects", json={"name": "moving"}, headers=headers).json()["id"]
    for number in range(SEEDED):
        app.post(f"/projects/{project}/notes", json={"title": f"seed{number}"}, headers=headers)
    running = Writer(app, headers, project)
    running.start()
    return name, running


def migrate(
    custom: client.CustomObjectsApi, name: str, tier: str, timeout: float = 90
) -> dict[str, Any]:
    """Change the tenant's Tier and wait until its migration ended and the Tenant is Ready."""
    support.patch_tenant(custom, name, tier=tier)
    target = PLACEMENT[tier]

    def done() -> dict[str, Any] | None:
        tenant = support.get_tenant(custom, name) or {}
        status = tenant.get("status") or {}
        migration = status.get("migration") or {}
        finished = migration.get("phase") in ("Completed", "Failed")
        return (
            tenant
            if (
                finished
                and migration.get("target") == target
                and status.get("phase") == "Ready"
                and status.get("observedGeneration") == tenant["metadata"]["generation"]
            )
            else None
        )

    return eventually(done, timeout=timeout, what=f"{name} migrated to {target}")


def at_phase(custom: client.CustomObjectsApi, name: str, phase: str) -> bool:
    status = (support.get_tenant(custom, name) or {}).get("status") or {}
    return bool(status.get("migration", {}).get("phase") == phase)


def replication_leftovers(pool_admin: psycopg.Connection[Any], name: str) -> list[Any]:
    """The move's slots, subscriptions, publications, triggers and change log still in the pool
    database."""
    mig = "tenantry_mig_" + name.replace("-", "_")
    return [
        *pool_admin.execute(
            "SELECT slot_name FROM pg_replication_slots WHERE slot_name = %s "
            "OR slot_name LIKE 'pg\\_%%\\_sync\\_%%'",
            (mig,),
        ).fetchall(),
        *pool_admin.execute(
            "SELECT subname FROM pg_subscription WHERE subname = %s", (mig,)
        ).fetchall(),
        *pool_admin.execute(
            "SELECT pubname FROM pg_publication WHERE pubname = %s", (mig,)
        ).fetchall(),
        *pool_admin.execute(
            "SELECT tgname FROM pg_trigger WHERE tgname LIKE %s", (mig + "\\_%",)
        ).fetchall(),
        *pool_admin.execute(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'tenantry\\_move\\_%%'"
        ).fetchall(),
        *pool_admin.execute(  # the change log of `changelog`
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'tenantry_move' AND c.relname = %s",
            (mig,),
        ).fetchall(),
    ]


def assert_nothing_lost(app: httpx.Client, running: Writer) -> None:
    notes = support.every_page(app, f"/projects/{running.project}/notes", running.headers)
    ids = {note["id"] for note in notes}
    assert running.errors == []
    assert set(running.acked) <= ids, f"lost {len(set(running.acked) - ids)} acknowledged writes"
    assert len(notes) == SEEDED + len(running.acked)
