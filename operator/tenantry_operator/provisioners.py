"""Which `DatabaseProvisioner` holds a silo tenant's database: the one the tenant's Tier names
(spec.database.provisioner: servers, terraform or pulumi, with its module and parameters), else
the operator's setting (TENANTRY_DATABASE_PROVISIONER).

`ByTier` is what the handlers give the reconciler: it implements the same three methods and
hands each call to the provisioner of the Tenant the database belongs to (a silo database's
name is its tenant's key). Names that belong to no Tenant, such as retained data's, go to the
operator's server list. The Terraform provisioner's plans become Events on the Tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tenantry_core import identity, resources
from tenantry_operator import (
    apply,
    conditions,
    model,
    provisioner,
    provisioner_pulumi,
    provisioner_terraform,
    settings,
)

PLANNED = "TerraformPlan"  # the reason of the Events that announce a plan's changes
DEFAULT_MODULE = "server"


def choose(
    provisioning: model.Provisioning,
    *,
    cfg: settings.OperatorSettings,
    servers: provisioner.DatabaseProvisioner,
    announce: provisioner_terraform.Announce,
) -> provisioner.DatabaseProvisioner:
    """The provisioner a Tier's `provisioning` asks for (the operator's setting when unset)."""
    named = provisioning.provisioner or model.Provisioner(cfg.database_provisioner)
    module = provisioning.module or DEFAULT_MODULE
    if named is model.Provisioner.TERRAFORM:
        return provisioner_terraform.TerraformProvisioner(
            cfg.terraform_modules_dir / module,
            provisioning.parameters,
            work_dir=cfg.terraform_work_dir,
            state_url=cfg.state_url(),
            admin=cfg.admin_url(),
            announce=announce,
        )
    if named is model.Provisioner.PULUMI:
        return provisioner_pulumi.PulumiProvisioner(
            module, provisioning.parameters, admin=cfg.admin_url()
        )
    return servers


def places_by_policy(
    placement: model.Isolation, tier: model.Tier, cfg: settings.OperatorSettings
) -> bool:
    """Whether the placement policy picks a new tenant's server: always for pool and bridge,
    and for a silo whose databases the server list makes (Terraform and Pulumi place theirs)."""
    if placement is not model.Isolation.SILO:
        return True
    named = tier.provisioning.provisioner or model.Provisioner(cfg.database_provisioner)
    return named is model.Provisioner.SERVERS


class ByTier:
    """Each call goes to the provisioner of the Tier of the Tenant the database belongs to."""

    def __init__(
        self, servers: provisioner.DatabaseProvisioner, cfg: settings.OperatorSettings
    ) -> None:
        self.servers = servers
        self.cfg = cfg

    def _for(self, name: str) -> provisioner.DatabaseProvisioner:
        key = model.silo_tenant_key(name)
        tenant = None if key is None else _get(resources.TENANT_KIND, key)
        if tenant is None:
            return self.servers
        tier = _get(resources.TIER_KIND, str((tenant.get("spec") or {}).get("tier", "")))
        provisioning = model.Tier.from_body(tier).provisioning if tier else model.Provisioning()

        def announce(_: identity.TenantKey, message: str) -> None:
            apply.post_event(tenant, conditions.Event("Normal", PLANNED, message))

        return choose(provisioning, cfg=self.cfg, servers=self.servers, announce=announce)

    def locate(self, name: str, server: str = "") -> provisioner.Database | None:
        return self._for(name).locate(name, server)

    def create(self, name: str, server: str = "") -> provisioner.Database:
        return self._for(name).create(name, server)

    def drop(self, name: str, server: str = "") -> bool:
        return self._for(name).drop(name, server)


def _get(kind: str, name: str) -> Mapping[str, Any] | None:
    return apply.get(resources.API_VERSION, kind, name) if name else None
