"""Mirrors Kubernetes into the registry: Tenant status back to tenant rows, Tiers into the tier
catalog (services.tiers).

A Tenant created with kubectl gets a registry row; a Tenant deleted with kubectl marks its row
offboarding. Each mirror lists, then watches from the list's resourceVersion, and lists again
after any error, so a missed event is repaired by the next list. Started by `control_plane.main`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from control_plane import models
from control_plane.integrations import kube
from control_plane.services import tiers
from tenantry_core import enums

log = logging.getLogger(__name__)


def _company_for(session: Session, obj: dict[str, Any]) -> str:
    name = obj["metadata"]["name"]
    wanted = str((obj.get("spec") or {}).get("displayName") or name)
    taken = session.scalar(
        select(models.Tenant.id).where(func.lower(models.Tenant.company) == wanted.lower())
    )
    return f"{wanted} ({name})" if taken else wanted


def sync_tenant(session: Session, obj: dict[str, Any], *, deleted: bool = False) -> None:
    """Reflect one Tenant resource (or its deletion) into the registry."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    tenant = session.scalar(select(models.Tenant).where(models.Tenant.tenant_key == meta["name"]))
    if tenant is None:
        if deleted:
            return
        tenant = models.Tenant(
            tenant_key=meta["name"],
            company=_company_for(session, obj),
            tier=str(spec.get("tier", "")),
            owner_email=(spec.get("owner") or {}).get("email"),
            source=models.Source.KUBERNETES,
        )
        session.add(tenant)
    elif deleted and tenant.cr_uid and tenant.cr_uid != meta.get("uid"):
        return  # an older incarnation's deletion; the current resource is someone else
    tenant.cr_uid = meta.get("uid")
    if tenant.source == models.Source.KUBERNETES:  # signup tenants' tier is the registry's
        tenant.tier = str(spec.get("tier", tenant.tier))
    tenant.phase = str(status.get("phase") or tenant.phase or enums.Phase.PENDING)
    tenant.placement = status.get("placement", tenant.placement)
    tenant.conditions = list(status.get("conditions") or tenant.conditions or [])
    if deleted or meta.get("deletionTimestamp"):
        mark_offboarding(tenant, gone=deleted)
    if status.get("retainedData"):
        tenant.data_retention = {"policy": "Retain", **status["retainedData"]}
    elif status.get("snapshot"):
        tenant.data_retention = {"policy": "Snapshot", **status["snapshot"]}
    tenant.updated_at = dt.datetime.now(dt.UTC)


def mark_offboarding(tenant: models.Tenant, *, gone: bool) -> None:
    tenant.lifecycle = models.Lifecycle.OFFBOARDING
    if gone:
        tenant.phase = "Deleted"
        tenant.offboarded_at = tenant.offboarded_at or dt.datetime.now(dt.UTC)


def sync_tenant_list(session: Session, items: list[dict[str, Any]]) -> None:
    """After a (re)list: reflect every resource, and the deletion of any we saw before."""
    for obj in items:
        sync_tenant(session, obj)
    present = {obj["metadata"]["name"] for obj in items}
    vanished = session.scalars(
        select(models.Tenant).where(
            models.Tenant.cr_uid.is_not(None),
            models.Tenant.offboarded_at.is_(None),
            models.Tenant.tenant_key.not_in(present)
            if present
            else models.Tenant.tenant_key.is_not(None),
        )
    )
    for tenant in vanished:
        mark_offboarding(tenant, gone=True)


class Mirror:
    """List-then-watch loops for Tenants (into the registry) and Tiers (into the cache)."""

    def __init__(self, sessions: sessionmaker[Session], catalog: tiers.TierCache) -> None:
        self.sessions, self.tiers = sessions, catalog
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(
                target=self._loop,
                args=("tenants", self._tenants_listed, self._tenant_event),
                daemon=True,
                name="mirror-tenants",
            ),
            threading.Thread(
                target=self._loop,
                args=("tiers", self.tiers.replace, self.tiers.update),
                daemon=True,
                name="mirror-tiers",
            ),
        ]

    def _tenants_listed(self, items: list[dict[str, Any]]) -> None:
        with self.sessions() as session, session.begin():
            sync_tenant_list(session, items)

    def _tenant_event(self, event: str, obj: dict[str, Any]) -> None:
        with self.sessions() as session, session.begin():
            sync_tenant(session, obj, deleted=event == "DELETED")

    def _loop(
        self,
        plural: str,
        listed: Callable[[list[dict[str, Any]]], None],
        changed: Callable[[str, dict[str, Any]], None],
    ) -> None:
        while not self.stopping.is_set():
            try:
                items, version = kube.list_objects(plural)
                listed(items)
                while not self.stopping.is_set():
                    for event, obj in kube.watch_objects(plural, version, timeout_seconds=30):
                        if event == "BOOKMARK":
                            continue
                        version = obj["metadata"]["resourceVersion"]
                        changed(event, obj)
            except Exception:
                log.exception("mirror of %s failed; listing again", plural)
                self.stopping.wait(1.0)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
