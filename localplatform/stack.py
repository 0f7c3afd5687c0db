"""The whole local platform, composed: what `make dev` runs and what the test suite starts.

`Platform.start_infrastructure()` brings up Postgres, Kubernetes (or attaches to KUBECONFIG), the
simulated node, the CRDs and default Tiers. `start_operator()`, `start_control_plane()` and
`start_app_plane()` run Tenantry's own processes against it. `env()` is what `.tenantry/dev.env`
holds.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from localplatform import kube, postgres, procs
from tenantry_core import tokens

CONTROL_DB = "tenantry"
PLATFORM_ADMIN_EMAIL = "admin@tenantry.example.com"
POOL_DB = "tenantry_pool"
LOCALSTRIPE_KEY = "sk_test_local"


def _secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    """A random secret kept in the state directory, so restarts reuse it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class Platform:
    state_dir: Path
    preferred_ports: dict[str, int] = field(default_factory=dict)
    supervisor: procs.Supervisor = field(init=False)
    ports: dict[str, int] = field(default_factory=dict)
    kubeconfig: Path | None = None
    pg: postgres.Postgres | None = None
    processes: dict[str, procs.Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state_dir = self.state_dir.resolve()
        self.supervisor = procs.Supervisor(self.state_dir / "logs")

    def port(self, name: str) -> int:
        if name not in self.ports:
            self.ports[name] = procs.free_port(self.preferred_ports.get(name))
        return self.ports[name]

    # -- infrastructure ----------------------------------------------------------------------------
    def start_infrastructure(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.pg = postgres.Postgres(self.state_dir / "postgres", self.port("postgres"))
        self.pg.start(self.supervisor)
        self.pg.create_database(CONTROL_DB)
        self.pg.create_database(POOL_DB)
        self.start_localstripe()
        existing = self.existing_kubeconfig()
        if existing:
            self.kubeconfig = existing
        else:
            control_plane = kube.KubeControlPlane(
                kube.find_assets(),
                self.state_dir / "kube",
                api_port=self.port("kube-apiserver"),
                etcd_port=self.port("etcd"),
            )
            control_plane.start_api(self.supervisor)
            self.kubeconfig = control_plane.kubeconfig
            self.install_crds()
            control_plane.start_controllers(self.supervisor)
            node = self.supervisor.start(
                "simulated-node",
                [
                    sys.executable,
                    "-m",
                    "localplatform.node",
                    "--kubeconfig",
                    str(self.kubeconfig),
                    "--pod-logs",
                    str(self.state_dir / "logs" / "pods"),
                ],
            )
            self.supervisor.wait_ready(node, lambda: self._node_ready(), timeout=30)
            self.processes["simulated-node"] = node
        self.install_manifests()

    @property
    def kubectl_dir(self) -> Path | None:
        """Where our kubectl is, when the platform has its own Kubernetes binaries."""
        try:
            return kube.find_assets()
        except procs.StartupError:
            return None

    def start_localstripe(self) -> None:
        """A stateful fake of Stripe's API (development only: the `dev` extra installs it)."""
        binary = Path(sys.executable).parent / "localstripe"
        if not binary.exists():
            return
        port = self.port("localstripe")
        # --from-scratch: localstripe keeps its state in one fixed file (/tmp/localstripe.pickle)
        # that every instance rewrites; loading it while another instance writes it crashes.
        process = self.supervisor.start(
            "localstripe", [str(binary), "--port", str(port), "--from-scratch"]
        )
        self.supervisor.wait_ready(
            process,
            lambda: procs.http_ok(f"http://127.0.0.1:{port}/v1/customers", token=LOCALSTRIPE_KEY),
            timeout=30,
        )
        self.processes["localstripe"] = process

    def existing_kubeconfig(self) -> Path | None:
        """The cluster to use instead of starting one: KUBECONFIG, unless Kubernetes binaries
        were named (KUBE_ASSETS) or it is a kubeconfig of a local platform (a sourced dev.env)."""
        existing = os.environ.get("KUBECONFIG")
        if not existing or os.environ.get("KUBE_ASSETS") or os.environ.get("KUBEBUILDER_ASSETS"):
            return None
        path = Path(existing).resolve()
        if (
            path.name == "kubeconfig"
            and path.parent.name == "kube"
            and (path.parent.parent / "postgres").exists()
        ):
            return None
        return path

    def kubectl(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        binary = str(self.kubectl_dir / "kubectl") if self.kubectl_dir else "kubectl"
        return subprocess.run(
            [binary, f"--kubeconfig={self.kubeconfig}", *args],
            check=check,
            capture_output=True,
            text=True,
            input=stdin,
        )

    def _node_ready(self) -> bool:
        out = self.kubectl("get", "nodes", "-o", "name", check=False)
        return "node/" in out.stdout

    def install_crds(self) -> None:
        crds = kube.REPO_ROOT / "crds"
        self.kubectl(
            "apply",
            "--server-side",
            "--field-manager=tenantry",
            "-f",
            str(crds / "tenants.tenantry.dev.yaml"),
            "-f",
            str(crds / "tiers.tenantry.dev.yaml"),
        )
        self.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            "crd/tenants.tenantry.dev",
            "crd/tiers.tenantry.dev",
        )

    def install_manifests(self) -> None:
        """CRDs (again: idempotent, and needed on an existing cluster), the platform namespace
        with the shared app's Secret and Deployment, and the default Tiers."""
        crds = kube.REPO_ROOT / "crds"
        self.install_crds()
        env = self.env()
        app_secret = {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": "tenantry-system",
                        "labels": {"tenantry.dev/platform": "true"},
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "type": "Opaque",
                    "metadata": {"name": "tenantry-app", "namespace": "tenantry-system"},
                    "stringData": {
                        k: env[k] for k in ("TENANTRY_APP_DATABASE_URL", "JWT_PUBLIC_KEY")
                    },
                },
            ],
        }
        self.kubectl(
            "apply",
            "--server-side",
            "--field-manager=tenantry",
            "-f",
            "-",
            stdin=json.dumps(app_secret),
        )
        self.kubectl(
            "apply",
            "--server-side",
            "--field-manager=tenantry",
            "-f",
            str(kube.REPO_ROOT / "templates" / "platform"),
        )
        self.kubectl(
            "apply",
            "--server-side",
            "--field-manager=tenantry",
            "-f",
            str(crds / "default-tiers.yaml"),
        )

    # -- tenantry's own processes ------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        assert self.pg is not None
        assert self.kubeconfig is not None
        app_password = _secret(self.state_dir / "secrets" / "app-db-password")
        signing_key = _secret(
            self.state_dir / "secrets" / "jwt-signing-key.pem", tokens.generate_signing_key
        )
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "DATABASE_URL": self.pg.url(CONTROL_DB).replace(
                "postgresql://", "postgresql+psycopg://"
            ),
            "TENANTRY_POSTGRES_ADMIN_URL": self.pg.url("postgres"),
            "TENANTRY_POOL_DATABASE": POOL_DB,
            "TENANTRY_APP_DB_PASSWORD": app_password,
            "TENANTRY_APP_DATABASE_URL": self.pg.url(
                POOL_DB, user="tenantry_app", password=app_password
            ),
            "USAGE_DATABASE_URL": self.pg.url(POOL_DB, user="tenantry_app", password=app_password),
            "JWT_PRIVATE_KEY": signing_key,
            "JWT_PUBLIC_KEY": tokens.public_key_pem(signing_key),
            "ENVIRONMENT": "local",
            "FIRST_PLATFORM_ADMIN_EMAIL": PLATFORM_ADMIN_EMAIL,
            "FIRST_PLATFORM_ADMIN_PASSWORD": _secret(self.state_dir / "secrets" / "admin-password"),
            **(
                {
                    "STRIPE_API_KEY": "sk_test_local",
                    "STRIPE_API_BASE": f"http://127.0.0.1:{self.ports['localstripe']}",
                }
                if "localstripe" in self.ports
                else {}
            ),
            "STRIPE_WEBHOOK_SECRET": "whsec_"
            + _secret(self.state_dir / "secrets" / "stripe-webhook"),
            "TENANTRY_SNAPSHOT_DIR": str(self.state_dir / "snapshots"),
            "API_URL": f"http://127.0.0.1:{self.port('control-plane')}",
            "APP_URL": f"http://127.0.0.1:{self.port('app-plane')}",
        }

    def _start_python(
        self,
        name: str,
        args: list[str],
        *,
        health: str | None,
        timeout: float = 60,
        extra_env: dict[str, str] | None = None,
    ) -> procs.Process:
        env = {**self.env(), **(extra_env or {})}
        if not name.startswith("control-plane"):
            del env["JWT_PRIVATE_KEY"]  # only the control plane signs tokens
        process = self.supervisor.start(name, [sys.executable, *args], env=env, cwd=kube.REPO_ROOT)
        if health:
            self.supervisor.wait_ready(process, lambda: procs.http_ok(health), timeout=timeout)
        self.processes[name] = process
        return process

    def start_operator(self, extra_env: dict[str, str] | None = None) -> procs.Process:
        port = self.port("operator-health")
        extra_env = {
            "TENANTRY_METRICS_PORT": str(self.port("operator-metrics")),
            "TENANTRY_METRICS_ADDRESS": "127.0.0.1",
            **(extra_env or {}),
        }
        return self._start_python(
            "operator",
            [
                "-m",
                "kopf",
                "run",
                "--standalone",
                "--all-namespaces",
                f"--liveness=http://127.0.0.1:{port}/healthz",
                "-m",
                "tenantry_operator.handlers",
            ],
            health=f"http://127.0.0.1:{port}/healthz",
            extra_env=extra_env,
        )

    def kill_operator(self) -> None:
        """SIGKILL the operator: no graceful shutdown, as when its node dies."""
        process = self.processes.pop("operator", None)
        if process:
            os.killpg(process.popen.pid, signal.SIGKILL)
            self.supervisor.stop(process)

    def stop_operator(self) -> None:
        self.stop_process("operator")

    def start_control_plane(
        self, name: str = "control-plane", extra_env: dict[str, str] | None = None
    ) -> procs.Process:
        """Migrate, then start a control-plane replica (`name` tells replicas apart)."""
        subprocess.run(
            [sys.executable, "-m", "control_plane.prestart"],
            env={**os.environ, **self.env()},
            check=True,
            cwd=kube.REPO_ROOT,
        )
        port = self.port(name)
        return self._start_python(
            name,
            procs.uvicorn_args("control_plane.main:app", port),
            health=f"http://127.0.0.1:{port}/healthz",
            extra_env=extra_env,
        )

    def stop_process(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process:
            self.supervisor.stop(process)

    def start_app_plane(self) -> procs.Process:
        port = self.port("app-plane")
        return self._start_python(
            "app-plane",
            procs.uvicorn_args("app_plane.main:app", port),
            health=f"http://127.0.0.1:{port}/healthz",
        )

    def stop(self) -> None:
        self.supervisor.stop_all()
