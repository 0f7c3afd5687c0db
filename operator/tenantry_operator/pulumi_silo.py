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

import pulumi
import pulumi_postgresql as postgresql

FLAVOURS = ("server",)
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


def program(spec: SiloSpec) -> Callable[[], None]:
    """The inline program for `spec`: the owner role, the database, the outputs."""

    def declare() -> None:
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
        pulumi.export("host", spec.host)
        pulumi.export("port", spec.port)
        pulumi.export("database", database.name)
        pulumi.export("admin_username", spec.admin_username)

    return declare
