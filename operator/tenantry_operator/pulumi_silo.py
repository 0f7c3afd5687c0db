"""The silo-database Pulumi program: one tenant's dedicated database, the Pulumi twin of
terraform/silo-database/server (a database and its owner role on an existing server, through
the PostgreSQL provider). Declarations only: `provisioner_pulumi` runs it inline with the
Automation API, one stack per tenant, and the unit tests run it with Pulumi's mocks.

Its outputs are the silo-database interface the operator reads: host, port, database,
admin_username. The administrator's password reaches the provider as a Pulumi secret (the
stack's state keeps it encrypted), never an output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_postgresql as postgresql

OUTPUTS = ("host", "port", "database", "admin_username")


@dataclass(frozen=True)
class SiloSpec:
    """What one tenant's program declares: the interface's variables."""

    tenant_key: str
    database_name: str
    admin_username: str
    admin_password: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.parameters.get("host", "127.0.0.1")

    @property
    def port(self) -> int:
        return int(self.parameters.get("port", "5432"))


def declare(spec: SiloSpec) -> dict[str, pulumi.Output[Any]]:
    """Declare the owner role and the database on the server; the interface's outputs."""
    server = postgresql.Provider(
        "server",
        host=spec.host,
        port=spec.port,
        username=spec.admin_username,
        password=pulumi.Output.secret(spec.admin_password or ""),
        sslmode=spec.parameters.get("sslmode", "require"),
        superuser=spec.parameters.get("superuser", "true") == "true",
    )
    on_server = pulumi.ResourceOptions(provider=server)
    owner = postgresql.Role(
        "owner", name=f"{spec.database_name}_owner", login=False, opts=on_server
    )
    database = postgresql.Database(
        "database", name=spec.database_name, owner=owner.name, opts=on_server
    )
    return {
        "host": pulumi.Output.from_input(spec.host),
        "port": pulumi.Output.from_input(spec.port),
        "database": database.name,
        "admin_username": pulumi.Output.from_input(spec.admin_username),
    }


def program(spec: SiloSpec) -> Callable[[], None]:
    """The inline program for `spec`: `declare`, then export the outputs."""

    def run() -> None:
        for name, value in declare(spec).items():
            pulumi.export(name, value)

    return run
