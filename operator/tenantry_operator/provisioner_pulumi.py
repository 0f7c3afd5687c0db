"""Silo databases made by the silo-database Pulumi program, one stack per tenant: a
`DatabaseProvisioner`.

`provisioners` picks it for Tiers whose spec.database.provisioner is pulumi. It runs
`pulumi_silo.program` inline with Pulumi's Automation API, which drives the `pulumi` CLI: per
tenant a stack named by its key in project `tenantry-silo`, with its state in the backend the
operator's environment names (PULUMI_BACKEND_URL; Postgres works). `create` is `up` (idempotent:
the stack is the record, so an `up` cut short is run again), `drop` is `destroy` and removes the
stack, `locate` reads the stack's outputs. Without the CLI every call raises ToolMissing, which
the Tenant shows as a condition.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from tenantry_core import identity
from tenantry_operator import model, provisioner

log = logging.getLogger(__name__)

KIND = "pulumi"  # its servers are named pulumi:<flavour>:<host>:<port>
PROJECT = "tenantry-silo"
FLAVOURS = ("server",)  # pulumi_silo's, named here so the operator starts without Pulumi
OUTPUTS = ("host", "port", "database", "admin_username")  # the silo-database interface
MISSING_SDK = (
    "the pulumi provisioner needs Pulumi's Python SDK on the operator (the infra extra: "
    "pip install 'tenantry[infra]'); the Tier names pulumi"
)
MISSING_CLI = (
    "the pulumi provisioner needs the pulumi CLI on the operator's PATH, and it is not "
    "installed; install it or give the Tier another provisioner"
)

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class PulumiProvisioner:
    """Silo databases from the Pulumi program's `flavour`, with a Tier's `parameters`."""

    def __init__(self, flavour: str, parameters: Mapping[str, str], *, admin: str) -> None:
        self.flavour = flavour
        self.parameters = dict(parameters)
        self.admin = admin

    def _key(self, name: str) -> identity.TenantKey:
        key = model.silo_tenant_key(name)
        if key is None:
            raise provisioner.ProvisioningFailed(f"{name} is not a tenant's silo database")
        return key

    def _stack(self, name: str, *, create: bool) -> Any:
        """The tenant's stack with its program, selected (or made, when `create`); None if it
        does not exist."""
        if self.flavour not in FLAVOURS:
            raise provisioner.ProvisioningFailed(
                f"the Pulumi program has no flavour {self.flavour} (it has {', '.join(FLAVOURS)})"
            )
        try:  # the infra extra: without it, as without the CLI, the Tier cannot be served
            from pulumi import automation

            from tenantry_operator import pulumi_silo
        except ImportError as exc:
            raise provisioner.ToolMissing(MISSING_SDK) from exc
        parts = urlsplit(self.admin)
        spec = pulumi_silo.SiloSpec(
            tenant_key=self._key(name),
            database_name=name,
            admin_username=unquote(parts.username or "postgres"),
            admin_password=provisioner.Server.password(self.admin),
            parameters=self.parameters,
        )
        select = automation.create_or_select_stack if create else automation.select_stack
        try:
            return select(
                stack_name=spec.tenant_key, project_name=PROJECT, program=pulumi_silo.program(spec)
            )
        except FileNotFoundError as exc:
            raise provisioner.ToolMissing(MISSING_CLI) from exc
        except automation.StackNotFoundError:
            return None
        except automation.CommandError as exc:
            raise self._failed("stack selection", exc) from exc

    def _failed(self, step: str, exc: Exception) -> provisioner.ProvisioningFailed:
        log.warning("pulumi %s of flavour %s failed: %s", step, self.flavour, exc)
        return provisioner.ProvisioningFailed(
            f"pulumi {step} of flavour {self.flavour} failed; the operator's log has the details"
        )

    def _database(self, outputs: Mapping[str, Any]) -> provisioner.Database | None:
        values = {k: getattr(v, "value", None) for k, v in outputs.items()}
        if any(values.get(o) is None for o in OUTPUTS):
            return None
        server = provisioner.Server.from_outputs(f"{KIND}:{self.flavour}", values, self.admin)
        return provisioner.Database(server, str(values["database"]))

    def locate(self, name: str, server: str = "") -> provisioner.Database | None:
        if provisioner.foreign(KIND, server):
            return None
        with _lock(name):
            stack = self._stack(name, create=False)
            return None if stack is None else self._database(stack.outputs())

    def create(self, name: str, server: str = "") -> provisioner.Database:
        provisioner.refuse_foreign(KIND, server)
        with _lock(name):
            stack = self._stack(name, create=True)
            try:
                result = stack.up(on_output=log.debug)
            except Exception as exc:  # the Automation API's CommandError and its kin
                raise self._failed("up", exc) from exc
            database = self._database(result.outputs)
        if database is None:
            raise provisioner.ProvisioningFailed(
                f"the Pulumi program ({self.flavour}) ran but did not output {', '.join(OUTPUTS)}"
            )
        return database

    def drop(self, name: str, server: str = "") -> bool:
        if provisioner.foreign(KIND, server):
            return False
        with _lock(name):
            stack = self._stack(name, create=False)
            if stack is None:
                return False
            try:
                stack.destroy(on_output=log.debug)
                stack.workspace.remove_stack(stack.name)
            except Exception as exc:  # the Automation API's CommandError and its kin
                raise self._failed("destroy", exc) from exc
        return True
