"""The contract for running the app's schema migrations out of process: commands and revisions."""

import importlib.util
import sys

import pytest

from tenantry_core import enums, schema


def test_the_default_command_runs_the_app_planes_upgrade_module() -> None:
    assert (sys.executable, "-m", "app_plane.upgrade") == schema.DEFAULT_COMMAND
    assert importlib.util.find_spec(schema.MODULE) is not None


def test_the_upgrade_command_names_one_placement_and_a_revision() -> None:
    command = ("python", "-m", schema.MODULE)
    argv = schema.upgrade_argv(command, enums.Isolation.BRIDGE, "tenant_acme")
    assert argv == [
        *command,
        "--isolation",
        "bridge",
        "--schema",
        "tenant_acme",
        "--revision",
        "head",
    ]
    assert schema.upgrade_argv(command, enums.Isolation.SILO, "public", "0003")[-1] == "0003"
    assert schema.head_argv(command) == [*command, "--print-head"]


@pytest.mark.parametrize(
    ("isolation", "migrated", "kept_in"),
    [
        (enums.Isolation.POOL, "public", "tenantry"),
        (enums.Isolation.BRIDGE, "tenant_acme", "tenant_acme"),
        (enums.Isolation.SILO, "public", "public"),
    ],
)
def test_the_revision_is_kept_beside_the_routing_table_in_the_pool_else_in_place(
    isolation: enums.Isolation, migrated: str, kept_in: str
) -> None:
    assert schema.version_schema(isolation, migrated) == kept_in
