"""The whole local platform, composed: what `make dev` runs and what the test suite starts.

`Platform.start_infrastructure()` brings up Postgres and its databases (`localplatform.postgres`),
localstripe when installed (`localplatform.localstripe`), the SMTP sink and the OTLP trace
receiver (`localplatform.mailsink`, `localplatform.tracesink`), Kubernetes
(`localplatform.kube`: our own etcd, kube-apiserver and kube-controller-manager, or the cluster
in KUBECONFIG) with the simulated node (`localplatform.node`; app-plane pods as runc containers
or processes, per TENANTRY_POD_RUNTIME), and applies the CRDs, the platform namespace and the
default Tiers (`localplatform.manifests`). `start_operator()`, `start_control_plane()` and
`start_app_plane()` run Tenantry's own processes against it (`localplatform.services`). `env()`
is their environment (`localplatform.devenv`), of which `.tenantry/dev.env` shows a part.
The Platform picks the ports and keeps every process it started by name. The fault tests stop
and start its API server and Postgres again (`stop_api_server`, `stop_postgres`, ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from localplatform import (
    devenv,
    kube,
    kubeconfigs,
    localstripe,
    mailsink,
    manifests,
    postgres,
    procs,
    services,
    tracesink,
)

PORTS_FILE = "ports.json"
SILO_PG = "postgres-silo"  # the second silo server's process and port name

POD_RUNTIME_VAR = "TENANTRY_POD_RUNTIME"


@dataclass
class Platform:
    state_dir: Path
    preferred_ports: dict[str, int] = field(default_factory=dict)
    # Settings every control-plane replica of this platform gets (the tests raise some limits).
    control_plane_env: dict[str, str] = field(default_factory=dict)
    # How the simulated node runs app-plane pods: runc, process, or auto (runc when it can).
    pod_runtime: str = field(default_factory=lambda: os.environ.get(POD_RUNTIME_VAR, "auto"))
    supervisor: procs.Supervisor = field(init=False)
    ports: dict[str, int] = field(default_factory=dict)
    kubeconfig: Path | None = None
    pg: postgres.Postgres | None = None
    silo_pg: postgres.Postgres | None = None  # the second silo server (devenv.OTHER_SILO_SERVER)
    kube_control_plane: kube.KubeControlPlane | None = None  # None on an existing cluster
    processes: dict[str, procs.Process] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state_dir = self.state_dir.resolve()
        self.supervisor = procs.Supervisor(self.state_dir / "logs")

    def port(self, name: str) -> int:
        """The port of `name`: its preferred one if free, else the one it had the last time this
        state directory ran, else any free port; kept once chosen (in `ports.json`, so a
        restart keeps the URLs a shell sourced from dev.env)."""
        if name not in self.ports:
            remembered = self._remembered_ports()
            preferred = self.preferred_ports.get(name) or remembered.get(name)
            self.ports[name] = procs.free_port(preferred)
            self.state_dir.mkdir(parents=True, exist_ok=True)
            (self.state_dir / PORTS_FILE).write_text(json.dumps({**remembered, **self.ports}))
        return self.ports[name]

    def _remembered_ports(self) -> dict[str, int]:
        try:
            found = json.loads((self.state_dir / PORTS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): int(v) for k, v in found.items()} if isinstance(found, dict) else {}

    # -- infrastructure ----------------------------------------------------------------------------
    def start_infrastructure(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.pg = postgres.Postgres(self.state_dir / "postgres", self.port("postgres"))
        self.processes["postgres"] = self.pg.start(self.supervisor)
        self.pg.create_database(devenv.CONTROL_DB)
        self.pg.create_database(devenv.POOL_DB)
        self.silo_pg = postgres.Postgres(self.state_dir / SILO_PG, self.port(SILO_PG), SILO_PG)
        self.processes[SILO_PG] = self.silo_pg.start(self.supervisor)
        self.start_localstripe()
        self.start_mailsink()
        self.start_tracesink()
        self.kubeconfig = self.existing_kubeconfig()
        if self.kubeconfig is None:
            self._start_kubernetes()
        self.install_manifests()

    def _start_kubernetes(self) -> None:
        """Our own control plane, the CRDs before its controllers, then the simulated node."""
        control_plane = kube.KubeControlPlane(
            kube.find_assets(),
            self.state_dir / "kube",
            api_port=self.port("kube-apiserver"),
            etcd_port=self.port("etcd"),
        )
        control_plane.start_api(self.supervisor)
        self.kube_control_plane = control_plane
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
                "--pod-runtime",
                self.pod_runtime,
                "--runtime-dir",
                str(self.state_dir / "runc"),
            ],
        )
        self.supervisor.wait_ready(node, self._node_ready, timeout=30)
        self.processes["simulated-node"] = node

    def _node_ready(self) -> bool:
        return "node/" in self.kubectl("get", "nodes", "-o", "name", check=False).stdout

    def start_localstripe(self) -> None:
        """A stateful fake of Stripe's API, when installed (the `dev` extra), with the fake
        Checkout that announces completed sessions to the control plane's webhook."""
        if localstripe.installed():
            api = f"http://127.0.0.1:{self.port(services.CONTROL_PLANE)}"
            secret = devenv.Secrets.load(self.state_dir / "secrets").stripe_webhook
            process = localstripe.start(
                self.supervisor,
                port=self.port("localstripe"),
                webhook_url=f"{api}/api/v1/billing/stripe/webhook",
                webhook_secret="whsec_" + secret,
            )
            self.processes["localstripe"] = process

    @property
    def maildir(self) -> Path:
        """Where the SMTP sink keeps what the platform mails (a Maildir)."""
        return self.state_dir / "mail"

    def start_mailsink(self) -> None:
        """An SMTP server keeping every message in `maildir`, when installed (the `dev` extra)."""
        if mailsink.installed():
            process = mailsink.start(self.supervisor, port=self.port("smtp"), maildir=self.maildir)
            self.processes["mailsink"] = process

    @property
    def traces(self) -> Path:
        """Where the trace receiver keeps the spans it received (JSON lines)."""
        return self.state_dir / devenv.TRACES_FILE

    def start_tracesink(self) -> None:
        """An OTLP/HTTP receiver every Tenantry process exports its spans to."""
        process = tracesink.start(self.supervisor, port=self.port("otlp"), out=self.traces)
        self.processes["tracesink"] = process

    def existing_kubeconfig(self) -> Path | None:
        """The cluster to use instead of starting one (`localplatform.kube.existing_kubeconfig`)."""
        return kube.existing_kubeconfig()

    @property
    def kubectl_dir(self) -> Path | None:
        """Where our kubectl is, when the platform has its own Kubernetes binaries."""
        return kube.kubectl_dir()

    def _kubectl(self) -> kube.Kubectl:
        assert self.kubeconfig is not None
        return kube.Kubectl(self.kubeconfig, self.kubectl_dir)

    def kubectl(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._kubectl()(*args, check=check, stdin=stdin)

    def install_crds(self) -> None:
        manifests.install_crds(self._kubectl())

    def install_manifests(self) -> None:
        """CRDs, the platform namespace with the shared app's Secret and Deployment, and the
        default Tiers (`localplatform.manifests.install`)."""
        manifests.install(self._kubectl(), self.env())

    # -- tenantry's own processes ------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        assert self.pg is not None
        assert self.kubeconfig is not None
        return devenv.environment(
            kubeconfig=self.kubeconfig,
            postgres_url=self.pg.url(),
            secrets=devenv.Secrets.load(self.state_dir / "secrets"),
            state_dir=self.state_dir,
            control_plane_port=self.port(services.CONTROL_PLANE),
            app_plane_port=self.port(services.APP_PLANE),
            localstripe_port=self.ports.get("localstripe"),
            smtp_port=self.ports.get("smtp") if "mailsink" in self.processes else None,
            operator_metrics_port=self.ports.get("operator-metrics"),
            otlp_port=self.ports.get("otlp") if "tracesink" in self.processes else None,
            silo_url=self.silo_pg.url() if self.silo_pg else None,
        )

    def env_for(self, kubeconfig: Path | None) -> dict[str, str]:
        """`env()`, with `kubeconfig` in place of the admin's when given."""
        return {**self.env(), **({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {})}

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig acting as the ServiceAccount `namespace/name` (a TokenRequest token, an
        hour long), written into the state directory (`localplatform.kubeconfigs`)."""
        assert self.kubeconfig is not None
        token = self.kubectl("create", "token", name, "-n", namespace, "--duration=1h").stdout
        config = kubeconfigs.for_token(
            yaml.safe_load(self.kubeconfig.read_text()),
            user=f"{namespace}-{name}",
            token=token.strip(),
            namespace=namespace,
        )
        path = self.state_dir / "kube" / f"{namespace}-{name}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def start_operator(
        self,
        extra_env: dict[str, str] | None = None,
        *,
        kubeconfig: Path | None = None,
        peering: str | None = None,
    ) -> procs.Process:
        """The operator, as the platform's admin or as whoever `kubeconfig` names; alone, or in
        the ClusterKopfPeering `peering`."""
        process = services.start_operator(
            self.supervisor,
            env=self.env_for(kubeconfig),
            extra_env=extra_env or {},
            health_port=self.port("operator-health"),
            metrics_port=self.port("operator-metrics"),
            peering=peering,
        )
        self.processes[services.OPERATOR] = process
        return process

    def kill_operator(self) -> None:
        """SIGKILL the operator: no graceful shutdown, as when its node dies."""
        process = self.processes.pop(services.OPERATOR, None)
        if process:
            self.supervisor.kill(process)

    def stop_operator(self) -> None:
        self.stop_process(services.OPERATOR)

    def start_control_plane(
        self,
        name: str = services.CONTROL_PLANE,
        extra_env: dict[str, str] | None = None,
        *,
        kubeconfig: Path | None = None,
    ) -> procs.Process:
        """Migrate, then start a control-plane replica (`name` tells replicas apart), as the
        platform's admin or as whoever `kubeconfig` names."""
        process = services.start_control_plane(
            self.supervisor,
            name,
            env=self.env_for(kubeconfig),
            extra_env={**self.control_plane_env, **(extra_env or {})},
            port=self.port(name),
        )
        self.processes[name] = process
        return process

    def start_app_plane(self) -> procs.Process:
        process = services.start_app_plane(
            self.supervisor, env=self.env(), port=self.port(services.APP_PLANE)
        )
        self.processes[services.APP_PLANE] = process
        return process

    def stop_process(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process:
            self.supervisor.stop(process)

    # -- faults: a shared component stopped and started again, as the fault tests do ----------
    def _own_kubernetes(self) -> kube.KubeControlPlane:
        if self.kube_control_plane is None:
            raise procs.StartupError("the platform uses another cluster: no API server of its own")
        return self.kube_control_plane

    def stop_api_server(self) -> None:
        """Stop kube-apiserver; etcd, the controllers, the node and every client stay up."""
        self._own_kubernetes().stop_apiserver(self.supervisor)

    def start_api_server(self) -> None:
        """Start kube-apiserver again on the same port, certificates, tokens and etcd: every
        kubeconfig the platform wrote still works."""
        self._own_kubernetes().start_apiserver(self.supervisor)

    def stop_postgres(self) -> None:
        """Stop Postgres with a fast shutdown: every session is ended."""
        process = self.processes.pop("postgres", None)
        if process is not None and self.pg is not None:
            self.pg.stop(self.supervisor, process)

    def start_postgres(self) -> None:
        """Start Postgres again on the same data directory and port."""
        assert self.pg is not None
        self.processes["postgres"] = self.pg.start(self.supervisor)

    def stop(self) -> None:
        self.supervisor.stop_all()
