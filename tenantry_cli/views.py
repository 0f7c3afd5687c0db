"""Pure formatting for the `tenantry` CLI: Tenant resources, Events and outbox entries turned
into rows (plain dicts, what `--output json` prints) and Rich tables. No I/O; used by
`tenantry_cli.main` and `tenantry_cli.flags`, and unit-tested with literal resources.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import table


class Output(enum.StrEnum):
    """What a command prints: a Rich table, or JSON (`--output json`)."""

    TABLE = "table"
    JSON = "json"


TENANT_COLUMNS = ("name", "tier", "placement", "phase", "ready", "age")
OUTBOX_COLUMNS = ("id", "state", "tenant_id", "action", "attempts", "age", "last_error")
FINAL_MIGRATION_PHASES = frozenset({"Completed", "Failed"})


def parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def age(since: dt.datetime | None, now: dt.datetime) -> str:
    """A kubectl-style age: 42s, 5m, 3h, 2d."""
    if since is None:
        return "<unknown>"
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def condition(tenant: Mapping[str, Any], ctype: str) -> Mapping[str, Any]:
    for cond in (tenant.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return {}


def tenant_row(tenant: Mapping[str, Any], now: dt.datetime) -> dict[str, str]:
    """One line of `tenantry tenants`: tier, placement, phase, Ready and age."""
    status, meta = tenant.get("status") or {}, tenant.get("metadata") or {}
    return {
        "name": str(meta.get("name", "")),
        "tier": str((tenant.get("spec") or {}).get("tier", "")),
        "placement": str(status.get("placement") or ""),
        "phase": str(status.get("phase") or "Pending"),
        "ready": str(condition(tenant, "Ready").get("status", "Unknown")),
        "age": age(parse_time(meta.get("creationTimestamp")), now),
    }


def tenant_rows(tenants: Iterable[Mapping[str, Any]], now: dt.datetime) -> list[dict[str, str]]:
    return sorted((tenant_row(t, now) for t in tenants), key=lambda r: r["name"])


def event_row(event: Mapping[str, Any], now: dt.datetime) -> dict[str, str]:
    """An Event (as the API serializes it) as `describe` shows it."""
    last = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    return {
        "type": str(event.get("type") or ""),
        "reason": str(event.get("reason") or ""),
        "age": age(parse_time(last), now),
        "count": str(event.get("count") or 1),
        "message": str(event.get("message") or ""),
    }


def description(
    tenant: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    billing: Mapping[str, Any] | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """Everything `tenantry describe` shows about one tenant. `billing` is the registry's record
    (None when the control plane is unreachable or the tenant is not in the registry)."""
    status, spec = tenant.get("status") or {}, tenant.get("spec") or {}
    database = dict(status.get("database") or {})
    return {
        **tenant_row(tenant, now),
        "tenant_id": ((tenant.get("metadata") or {}).get("labels") or {}).get(
            "tenantry.dev/tenant-id"
        ),
        "suspended": bool(spec.get("suspended", False)),
        "namespace": status.get("namespace"),
        "data": {
            "placement": status.get("placement"),
            "database": database.get("name"),
            "schema": database.get("schema"),
            "host": database.get("host"),
            "port": database.get("port"),
            "tenant_key": database.get("tenantKey"),
        },
        "migration": dict(status.get("migration") or {}) or None,
        "conditions": [
            {
                "type": c.get("type"),
                "status": c.get("status"),
                "reason": c.get("reason", ""),
                "message": c.get("message", ""),
            }
            for c in status.get("conditions") or []
        ],
        "events": [event_row(e, now) for e in events],
        "billing": (
            {"state": billing.get("billing_state"), "lifecycle": billing.get("lifecycle")}
            if billing
            else None
        ),
    }


def outbox_row(entry: Mapping[str, Any], state: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "state": state,
        "tenant_id": entry["tenant_id"],
        "action": entry["action"],
        "attempts": entry["attempts"],
        "age": age(parse_time(entry.get("created_at")), now),
        "last_error": entry.get("last_error") or "",
    }


def grid(title: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> table.Table:
    """A Rich table of `rows` with one column per key in `columns`."""
    shown = table.Table(title=title, title_justify="left")
    for column in columns:
        shown.add_column(column.upper().replace("_", " "))
    for row in rows:
        shown.add_row(*(str(row.get(c, "")) for c in columns))
    return shown


def pairs(title: str, values: Mapping[str, Any]) -> table.Table:
    """A two-column Rich table of `values` (None shown as -)."""
    shown = table.Table(title=title, title_justify="left", show_header=False)
    shown.add_column("field", style="bold")
    shown.add_column("value")
    for key, value in values.items():
        shown.add_row(key, "-" if value is None else str(value))
    return shown


def migration_finished(tenant: Mapping[str, Any], generation: int) -> str | None:
    """How a move asked for at `generation` ended: "Ready", "Failed", or None while under way.

    Ready needs the status to reflect that generation with the Ready condition True and no
    migration still running; Failed is the migration's failure, which the operator does not
    retry by itself. A failed reconcile step (phase Failed) is retried, so it is not an end:
    see `failing`."""
    status = tenant.get("status") or {}
    migration = status.get("migration") or {}
    if migration.get("phase") == "Failed" and migration.get("generation", generation) >= generation:
        return "Failed"
    if (status.get("observedGeneration") or 0) < generation:
        return None
    running = migration.get("phase") not in (None, *FINAL_MIGRATION_PHASES)
    if condition(tenant, "Ready").get("status") == "True" and not running:
        return "Ready"
    return None


def failing(tenant: Mapping[str, Any]) -> str | None:
    """Why the Tenant's phase is Failed ("Reason: message" of its Ready condition), or None.
    The operator retries a failed step, so a caller waits a while before calling it final."""
    if (tenant.get("status") or {}).get("phase") != "Failed":
        return None
    ready = condition(tenant, "Ready")
    return f"{ready.get('reason', 'Failed')}: {ready.get('message', '')}".rstrip(": ")


MOVE_COLUMNS = (
    "started",
    "source",
    "source_server",
    "target",
    "target_server",
    "result",
    "rows_copied",
    "write_block_ms",
    "duration_ms",
    "reason",
)
SERVER_COLUMNS = ("name", "kind", "tenants", "rows", "host", "port", "database")
PLAN_COLUMNS = ("slug", "isolation", "source_server", "target_server", "load", "started")
REBALANCED_COLUMNS = ("slug", "source_server", "target_server", "result", "server")


def move_rows(tenant: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`tenantry moves`: the Tenant's move history (status.moves, oldest first), then the move
    under way, if one is (result: its phase)."""
    status = tenant.get("status") or {}
    rows = [
        {column: entry.get(_camel(column)) for column in MOVE_COLUMNS}
        for entry in status.get("moves") or []
    ]
    current = status.get("migration") or {}
    if current.get("phase") and current["phase"] not in FINAL_MIGRATION_PHASES:
        row = {column: current.get(_camel(column)) for column in MOVE_COLUMNS}
        rows.append({**row, "result": current["phase"]})
    return rows


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def server_row(server: Mapping[str, Any]) -> dict[str, Any]:
    return {column: server.get(column) for column in SERVER_COLUMNS}


def placement_of(tenant: Mapping[str, Any]) -> dict[str, str | None]:
    """Where a Tenant's data is now: its isolation model and server."""
    status = tenant.get("status") or {}
    return {"placement": status.get("placement"), "server": status.get("server")}


def spread(loads: Mapping[str, int]) -> int:
    """The most loaded server's load less the least loaded one's."""
    return max(loads.values()) - min(loads.values()) if loads else 0
