"""The silo-database Pulumi program, run with Pulumi's mocks: the resources it declares, their
inputs, and the outputs the operator reads (no CLI, no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from tenantry_operator import pulumi_silo


class Recorder(pulumi.runtime.Mocks):
    """Records each resource the program declares; echoes its inputs as its state."""

    def __init__(self) -> None:
        self.resources: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources[args.name] = (args.typ, dict(args.inputs))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


RECORDER = Recorder()


@pytest.fixture(autouse=True)
def mocked() -> Iterator[None]:
    """Pulumi's mocked engine, on an event loop of its own (other tests may close theirs)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    RECORDER.resources.clear()
    pulumi.runtime.set_mocks(RECORDER, project="tenantry-silo", stack="acme")
    yield
    asyncio.set_event_loop(None)
    loop.close()


SPEC = pulumi_silo.SiloSpec(
    tenant_key="acme",
    database_name="tenant_acme",
    admin_username="postgres",
    admin_password="s3cret",
    parameters={"host": "db-2.internal", "port": "6543", "sslmode": "disable"},
)


@pulumi.runtime.test  # type: ignore[untyped-decorator]  # Pulumi ships it untyped
def test_program_declares_owner_role_and_database_and_outputs_the_interface() -> Any:
    outputs = pulumi_silo.declare(SPEC)
    assert sorted(outputs) == sorted(pulumi_silo.OUTPUTS)

    def check(values: list[Any]) -> None:
        assert dict(zip(pulumi_silo.OUTPUTS, values, strict=True)) == {
            "host": "db-2.internal",
            "port": 6543,
            "database": "tenant_acme",
            "admin_username": "postgres",
        }
        provider_type, provider = RECORDER.resources["server"]
        assert provider_type == "pulumi:providers:postgresql"
        assert (provider["host"], provider["port"], provider["sslmode"]) == (
            "db-2.internal",
            "6543",
            "disable",
        )
        assert RECORDER.resources["owner"] == (
            "postgresql:index/role:Role",
            {"name": "tenant_acme_owner", "login": False},
        )
        database_type, database = RECORDER.resources["database"]
        assert database_type == "postgresql:index/database:Database"
        assert (database["name"], database["owner"]) == ("tenant_acme", "tenant_acme_owner")
        assert "s3cret" not in repr(values)  # the password is an input, never an output

    return pulumi.Output.all(*[outputs[name] for name in pulumi_silo.OUTPUTS]).apply(check)


def test_defaults_reach_the_local_server() -> None:
    spec = pulumi_silo.SiloSpec("acme", "tenant_acme", "postgres")
    assert (spec.host, spec.port, spec.admin_password) == ("127.0.0.1", 5432, None)
