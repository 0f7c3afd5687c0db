"""The words every component shares, as str-Enums: isolation models, phases, deletion policies.

The operator writes them into Tenant status, the control plane mirrors them into the registry
and its API, and the app plane reads the placement from the routing table.
"""

from __future__ import annotations

import enum


class Isolation(enum.StrEnum):
    """A Tier's isolation model, and where a tenant's data is placed."""

    POOL = "pool"  # rows in the shared pool database under FORCE row-level security
    BRIDGE = "bridge"  # a schema of its own in the pool database
    SILO = "silo"  # a dedicated database and a dedicated deployment


class DeletionPolicy(enum.StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"
    SNAPSHOT = "Snapshot"  # pg_dump the tenant's data, then delete it


class Phase(enum.StrEnum):
    """`status.phase` of a Tenant (and the registry's copy of it)."""

    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    READY = "Ready"
    SUSPENDED = "Suspended"
    FAILED = "Failed"
    DELETING = "Deleting"


class MigrationPhase(enum.StrEnum):
    """`status.migration.phase`: the steps of a live move between placements, in order."""

    PROVISIONING = "Provisioning"
    COPYING = "Copying"
    CATCHING_UP = "CatchingUp"
    SWITCHING = "Switching"
    CLEANING_UP = "CleaningUp"
    COMPLETED = "Completed"
    ROLLING_BACK = "RollingBack"
    FAILED = "Failed"
