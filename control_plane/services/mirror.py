"""Mirrors Kubernetes into the registry: Tenant status back to tenant rows, Tiers into a cache.

A Tenant created with kubectl gets a registry row; a Tenant deleted with kubectl marks its row
offboarding. Each mirror lists, then watches from the list's resourceVersion, and lists again
after any error, so a missed event is repaired by the next list.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from control_plane import models, schemas
from control_plane.services import kube
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


class TierCache:
    """The Tiers in the cluster, as the API shows them; `loaded` once the first list arrived."""

    def __init__(self, signup_tiers: list[str]) -> None:
        self.signup_tiers = set(signup_tiers)
        self._tiers: dict[str, schemas.TierPublic] = {}
        self.loaded = threading.Event()

    def _public(self, obj: dict[str, Any]) -> schemas.TierPublic:
        spec, name = obj.get("spec") or {}, obj["metadata"]["name"]
        return schemas.TierPublic(
            name=name,
            display_name=str(spec.get("displayName") or name),
            isolation=spec["isolation"],
            quota=dict(spec.get("quota") or {}),
            rate_limit_per_minute=int(spec.get("rateLimitPerMinute", 600)),
            features=list(spec.get("features") or []),
            self_service=name in self.signup_tiers,
        )

    def replace(self, items: list[dict[str, Any]]) -> None:
        self._tiers = {obj["metadata"]["name"]: self._public(obj) for obj in items}
        self.loaded.set()

    def update(self, event: str, obj: dict[str, Any]) -> None:
        tiers = dict(self._tiers)
        if event == "DELETED":
            tiers.pop(obj["metadata"]["name"], None)
        else:
            tiers[obj["metadata"]["name"]] = self._public(obj)
        self._tiers = tiers

    def all(self) -> list[schemas.TierPublic]:
        return sorted(self._tiers.values(), key=lambda t: t.name)

    def self_service(self) -> set[str]:
        return {name for name in self._tiers if name in self.signup_tiers}

    def names(self) -> set[str]:
        return set(self._tiers)

    def rate_limit(self, tier: str | None) -> int | None:
        """The tier's requests a minute, None for an unknown tier."""
        found = self._tiers.get(tier or "")
        return found.rate_limit_per_minute if found else None


class Mirror:
    """List-then-watch loops for Tenants (into the registry) and Tiers (into the cache)."""

    def __init__(self, sessions: sessionmaker[Session], tiers: TierCache) -> None:
        self.sessions, self.tiers = sessions, tiers
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
