"""Mirrors Kubernetes into the registry: Tenant status back to tenant rows, Tiers into the tier
catalog (services.tiers).

A Tenant created with kubectl gets a registry row, an owner invited by mail and, on a
billable Tier, a Stripe customer and subscription (through the outbox). A Tenant deleted with
kubectl marks its row offboarding, and once it is gone its billing contact is told
(services.notices). One deleted with its CRD (an uninstall) is `Kept` instead: the operator
keeps its data, and once the CRD is served again the control plane re-creates the Tenants it
made (a kubectl tenant's row follows the Tenant that names it in spec.adoptRetainedFrom). A
change made with kubectl (or a Tier's move policy) to tier, suspended, displayName or placement
is taken into the registry and audited (the Tenant resource is the source of truth for those
fields); status brings the placement, server, last migration, move history and the scheduled
backups kept. Rows match by uid, never by a reusable name, and each resource is mirrored on its
own. Each mirror lists, then watches from the list's resourceVersion, and lists again after any
error, so a missed event is repaired by the next list. Started by `control_plane.main`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from control_plane import models
from control_plane.integrations import kube
from control_plane.services import audit, notices, tiers, webhooks
from tenantry_core import enums, resources

log = logging.getLogger(__name__)


# What kubectl may change on any Tenant, and the registry column that follows it.
FOLLOWED = (
    ("tier", "tier"),
    ("suspended", "suspended"),
    ("displayName", "company"),
    ("placement", "placement_request"),  # a move set going in Kubernetes (a Tier's policy)
)
# The registry phase of a tenant whose Tenant went with its CRD: its data is kept.
KEPT = "Kept"
MAX_RELIST_BACKOFF = 30.0


def _row_for(session: Session, obj: dict[str, Any]) -> models.Tenant | None:
    """The registry row that owns this Tenant resource, if any.

    A row owns the Tenant it created or mirrored (its uid). A Tenant the control plane created
    names its row (label tenant-id) before the row records the uid. A row is never matched by
    name alone unless it is a kubectl tenant's row that has no Tenant yet: so a name re-created
    with kubectl never inherits an old tenant's row, users and data."""
    meta = obj["metadata"]
    found = session.scalar(select(models.Tenant).where(models.Tenant.cr_uid == meta["uid"]))
    if found is not None:
        return found
    labelled = (meta.get("labels") or {}).get(resources.LABEL_TENANT_ID)
    if labelled:
        try:
            row = session.get(models.Tenant, uuid.UUID(labelled))
        except ValueError:
            return None
        mine = row is not None and row.tenant_key == meta["name"] and row.cr_uid is None
        return row if mine else None
    adopted = (obj.get("spec") or {}).get("adoptRetainedFrom")
    if adopted:  # a kubectl tenant kept through an uninstall, re-created by an admin
        return session.scalar(
            select(models.Tenant).where(
                models.Tenant.cr_uid == str(adopted),
                models.Tenant.tenant_key == meta["name"],
                models.Tenant.phase == KEPT,
            )
        )
    return None


def _owners(meta: dict[str, Any], field: str) -> set[str]:
    """The field managers that set `spec.<field>` (managedFields)."""
    return {
        str(entry.get("manager"))
        for entry in meta.get("managedFields") or []
        if f"f:{field}" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    }


def _follow_spec(session: Session, tenant: models.Tenant, obj: dict[str, Any]) -> None:
    """Take into the registry what was changed on the Tenant by anyone but the control plane
    (kubectl, GitOps), and audit it as that field manager. The control plane's own applies are
    not read back: the registry may already hold a newer intent."""
    meta, spec = obj["metadata"], obj.get("spec") or {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    managers: set[str] = set()
    for field, column in FOLLOWED:
        if field not in spec or spec[field] == getattr(tenant, column):
            continue
        others = _owners(meta, field) - {resources.CONTROL_PLANE_FIELD_MANAGER}
        if tenant.source == models.Source.SIGNUP and not others:
            continue
        before[column], after[column] = getattr(tenant, column), spec[field]
        setattr(tenant, column, spec[field])
        managers |= others
    if after and tenant.source == models.Source.SIGNUP:
        audit.record(
            session=session,
            ctx=audit.Context(f"kubernetes:{','.join(sorted(managers))}"),
            action="tenant.changed_in_kubernetes",
            tenant_id=tenant.id,
            resource=f"tenant:{tenant.id}",
            before=before,
            after=after,
        )


def _welcome(session: Session, tenant: models.Tenant, catalog: tiers.TierCache | None) -> None:
    """A Tenant made with kubectl gets an owner (an invitation mailed to `spec.owner.email`) and,
    unless its Tier is not billable, a Stripe customer and subscription, like a signup's."""
    if tenant.owner_email:
        session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.INVITE_OWNER))
    if catalog is None or catalog.billable(tenant.tier):
        session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.SYNC_BILLING))


def sync_tenant(
    session: Session,
    obj: dict[str, Any],
    *,
    deleted: bool = False,
    catalog: tiers.TierCache | None = None,
) -> None:
    """Reflect one Tenant resource (or its deletion) into the registry; `catalog` says whether
    a new kubectl tenant's Tier is billable (every Tier is without one)."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    tenant = _row_for(session, obj)
    if tenant is None:
        if deleted or (meta.get("labels") or {}).get(resources.LABEL_TENANT_ID):
            return  # gone, or a signup's Tenant whose row is not committed yet (or never was)
        tenant = models.Tenant(
            tenant_key=meta["name"],
            company=str(spec.get("displayName") or meta["name"]),
            tier=str(spec.get("tier", "")),
            owner_email=(spec.get("owner") or {}).get("email"),
            source=models.Source.KUBERNETES,
        )
        session.add(tenant)
        if not (deleted or meta.get("deletionTimestamp")):
            _welcome(session, tenant, catalog)
    tenant.cr_uid = meta["uid"]
    _follow_spec(session, tenant, obj)
    phase = str(status.get("phase") or tenant.phase or enums.Phase.PENDING)
    if phase == enums.Phase.READY and tenant.phase != phase and tenant.id is not None:
        webhooks.emit(session, tenant, webhooks.Event.TENANT_READY, {"tier": tenant.tier})
    tenant.phase = phase
    tenant.placement = status.get("placement", tenant.placement)
    tenant.server = status.get("server", tenant.server)
    tenant.migration = status.get("migration", tenant.migration)
    tenant.moves = list(status.get("moves") or tenant.moves or [])
    tenant.backups = list(status.get("backups", tenant.backups) or [])
    tenant.conditions = list(status.get("conditions") or tenant.conditions or [])
    if deleted or meta.get("deletionTimestamp"):
        if not kube.tenant_crd_served():
            keep(tenant)  # deleted with its CRD
            return
        mark_offboarding(session, tenant, gone=deleted)
    if status.get("retainedData"):
        tenant.data_retention = {"policy": "Retain", **status["retainedData"]}
    elif status.get("snapshot"):
        tenant.data_retention = {"policy": "Snapshot", **status["snapshot"]}
    tenant.updated_at = dt.datetime.now(dt.UTC)


def sync_one(
    session: Session,
    obj: dict[str, Any],
    *,
    deleted: bool = False,
    catalog: tiers.TierCache | None = None,
) -> bool:
    """`sync_tenant` in a savepoint: a Tenant the registry refuses is logged and skipped, and
    never holds up the others. False if it was skipped."""
    try:
        with session.begin_nested():
            sync_tenant(session, obj, deleted=deleted, catalog=catalog)
    except SQLAlchemyError:
        log.exception("tenant %s not mirrored", obj["metadata"].get("name"))
        return False
    return True


def mark_offboarding(session: Session, tenant: models.Tenant, *, gone: bool) -> None:
    """The Tenant is being deleted; once it is gone, its billing contact is told (once)."""
    tenant.lifecycle = models.Lifecycle.OFFBOARDING
    if gone:
        tenant.phase = "Deleted"
        if tenant.offboarded_at is None:
            tenant.offboarded_at = dt.datetime.now(dt.UTC)
            notices.queue(session, tenant, notices.Notice.OFFBOARDING_COMPLETED)


def keep(tenant: models.Tenant) -> None:
    """The tenant's Tenant went with its CRD: not offboarded (its people still sign in, its data
    stays). A row the control plane made forgets the uid, so that the Tenant it re-creates
    (`reapply_kept`) is matched by its tenant-id label."""
    log.warning("tenant %s: its Tenant was deleted with the CRD; kept", tenant.tenant_key)
    tenant.phase = KEPT
    if tenant.source == models.Source.SIGNUP:
        tenant.cr_uid = None


def reapply_kept(session: Session) -> None:
    """Once the Tenant CRD is served again, re-create each kept Tenant the control plane made
    (through the outbox, once): the operator hands it its kept namespace and data."""
    kept = session.scalars(
        select(models.Tenant).where(
            models.Tenant.phase == KEPT,
            models.Tenant.source == models.Source.SIGNUP,
            models.Tenant.cr_uid.is_(None),
            models.Tenant.lifecycle != models.Lifecycle.OFFBOARDING,
        )
    ).all()
    if not kept or not kube.tenant_crd_served():
        return
    for tenant in kept:
        pending = session.scalar(
            select(models.OutboxEntry.id).where(
                models.OutboxEntry.tenant_id == tenant.id,
                models.OutboxEntry.action == models.OutboxAction.APPLY_TENANT,
                models.OutboxEntry.processed_at.is_(None),
                models.OutboxEntry.dead_at.is_(None),
            )
        )
        if pending is None:
            session.add(models.OutboxEntry(tenant=tenant, action=models.OutboxAction.APPLY_TENANT))


def sync_tenant_list(
    session: Session, items: list[dict[str, Any]], catalog: tiers.TierCache | None = None
) -> None:
    """After a (re)list: reflect every resource, and the deletion of any we saw before."""
    for obj in items:
        sync_one(session, obj, catalog=catalog)
    present = [str(obj["metadata"]["uid"]) for obj in items]
    vanished = session.scalars(
        select(models.Tenant).where(
            models.Tenant.cr_uid.is_not(None),
            models.Tenant.offboarded_at.is_(None),
            models.Tenant.phase != KEPT,
            models.Tenant.cr_uid.not_in(present) if present else models.Tenant.cr_uid.is_not(None),
        )
    ).all()
    for tenant in vanished:
        # A Tenant created after the list was read (a signup in flight) is not in it: only one
        # that is gone from the API server now is gone.
        current = kube.get_tenant(tenant.tenant_key)
        if current is None or current["metadata"].get("uid") != tenant.cr_uid:
            if kube.tenant_crd_served():
                mark_offboarding(session, tenant, gone=True)
            else:
                keep(tenant)
    reapply_kept(session)


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
        self.tiers.loaded.wait(timeout=30)  # whether a new tenant's Tier is billable
        with self.sessions() as session, session.begin():
            sync_tenant_list(session, items, self.tiers)

    def _tenant_event(self, event: str, obj: dict[str, Any]) -> None:
        with self.sessions() as session, session.begin():
            sync_one(session, obj, deleted=event == "DELETED", catalog=self.tiers)

    def _loop(
        self,
        plural: str,
        listed: Callable[[list[dict[str, Any]]], None],
        changed: Callable[[str, dict[str, Any]], None],
    ) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                items, version = kube.list_objects(plural)
                listed(items)
                failures = 0
                while not self.stopping.is_set():
                    for event, obj in kube.watch_objects(plural, version, timeout_seconds=30):
                        if event == "BOOKMARK":
                            continue
                        version = obj["metadata"]["resourceVersion"]
                        changed(event, obj)
            except Exception:
                # e.g. the CRD is gone (an uninstall): back off, up to half a minute.
                log.exception("mirror of %s failed; listing again", plural)
                self.stopping.wait(min(MAX_RELIST_BACKOFF, 2.0**failures))
                failures += 1

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
