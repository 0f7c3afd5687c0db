"""Kubernetes for the local platform: a real control plane of its own, or the cluster in KUBECONFIG.

`KubeControlPlane` runs etcd, kube-apiserver and kube-controller-manager. Binaries come from
KUBE_ASSETS (the envtest convention; KUBEBUILDER_ASSETS is honoured too) or from
`../shared/k8s/unpack`. Authentication is a static admin token, authorization is RBAC, and the
kubeconfig verifies the API server's self-signed certificate rather than skipping TLS.
`existing_kubeconfig` says when to use another cluster instead; `Kubectl` runs kubectl against
either. Used by `localplatform.stack` and `localplatform.manifests`.
"""

from __future__ import annotations

import fcntl
import functools
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from localplatform import procs

REPO_ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def find_assets() -> Path:
    """The directory holding etcd, kube-apiserver, kube-controller-manager and kubectl."""
    for var in ("KUBE_ASSETS", "KUBEBUILDER_ASSETS"):
        if os.environ.get(var):
            return Path(os.environ[var])
    unpack = REPO_ROOT.parent / "shared" / "k8s" / "unpack"
    if unpack.exists():
        dest = REPO_ROOT / ".k8s-assets"
        dest.mkdir(exist_ok=True)
        # Test workers start at once: one unpacks, the others wait and find it done (the script
        # removes a half-unpacked bin/ before it unpacks again).
        with (dest / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            out = subprocess.run(
                [str(unpack), str(dest)], check=True, capture_output=True, text=True
            )
        return Path(out.stdout.strip().splitlines()[-1])
    raise procs.StartupError(
        "no Kubernetes binaries: set KUBE_ASSETS to a directory with etcd and kube-apiserver, "
        "or KUBECONFIG to use an existing cluster"
    )


def kubectl_dir() -> Path | None:
    """Where our kubectl is, when the platform has its own Kubernetes binaries."""
    try:
        return find_assets()
    except procs.StartupError:
        return None


def existing_kubeconfig() -> Path | None:
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


@dataclass(frozen=True)
class Kubectl:
    """kubectl against one cluster: ours from `directory`, else the kubectl on PATH."""

    kubeconfig: Path
    directory: Path | None = None

    def argv(self, *args: str) -> list[str]:
        binary = str(self.directory / "kubectl") if self.directory else "kubectl"
        return [binary, f"--kubeconfig={self.kubeconfig}", *args]

    def __call__(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), check=check, capture_output=True, text=True, input=stdin
        )


@dataclass
class KubeControlPlane:
    assets: Path
    state_dir: Path
    api_port: int
    etcd_port: int
    token: str = ""
    apiserver: procs.Process | None = None  # the running kube-apiserver, once started

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.state_dir / "certs" / "apiserver.crt"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def _prepare(self) -> None:
        (self.state_dir / "certs").mkdir(parents=True, exist_ok=True)
        key = self.state_dir / "sa.key"
        if not key.exists():
            subprocess.run(
                ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )
        token_file = self.state_dir / "tokens.csv"
        if token_file.exists():
            self.token = token_file.read_text().split(",", 1)[0]
        else:
            self.token = secrets.token_urlsafe(32)
            token_file.write_text(f'{self.token},tenantry-admin,tenantry-admin,"system:masters"\n')
            token_file.chmod(0o600)

    def write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "tenantry-local",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": "tenantry-admin", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "tenantry-local",
                    "context": {"cluster": "tenantry-local", "user": "tenantry-admin"},
                }
            ],
            "current-context": "tenantry-local",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    def start_api(self, supervisor: procs.Supervisor) -> None:
        """Start etcd and kube-apiserver and write the kubeconfig."""
        self._prepare()
        etcd = supervisor.start(
            "etcd",
            [
                str(self.assets / "etcd"),
                "--data-dir",
                str(self.state_dir / "etcd"),
                "--listen-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{procs.free_port()}",
                "--unsafe-no-fsync",
            ],
        )
        supervisor.wait_ready(
            etcd, lambda: procs.http_ok(f"http://127.0.0.1:{self.etcd_port}/health"), timeout=30
        )
        self.start_apiserver(supervisor)
        self.write_kubeconfig()

    def start_apiserver(self, supervisor: procs.Supervisor) -> procs.Process:
        """Start kube-apiserver on etcd, with the certificates, tokens and service-account key
        of `state_dir` (a restart reuses them all, so clients keep their kubeconfig)."""
        key = str(self.state_dir / "sa.key")
        apiserver = supervisor.start(
            "kube-apiserver",
            [
                str(self.assets / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={self.state_dir / 'certs'}",
                "--authorization-mode=Node,RBAC",
                f"--token-auth-file={self.state_dir / 'tokens.csv'}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={key}",
                f"--service-account-signing-key-file={key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "-v=0",
            ],
        )
        supervisor.wait_ready(apiserver, self._api_ready, timeout=60)
        self.apiserver = apiserver
        return apiserver

    def stop_apiserver(self, supervisor: procs.Supervisor) -> None:
        """Stop kube-apiserver (SIGTERM, as a rolling restart does); etcd keeps the cluster."""
        if self.apiserver is not None:
            supervisor.stop(self.apiserver)
            self.apiserver = None

    def start_controllers(self, supervisor: procs.Supervisor) -> None:
        """Start kube-controller-manager; after the CRDs exist, so its garbage collector
        watches Tenants from the start instead of finding them at its next discovery."""
        key = str(self.state_dir / "sa.key")
        controllers = supervisor.start(
            "kube-controller-manager",
            [
                str(self.assets / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={procs.free_port()}",
                "--leader-elect=false",
                "--controllers=*",
                f"--service-account-private-key-file={key}",
                f"--root-ca-file={self.ca_file}",
                "--use-service-account-credentials=false",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--concurrent-namespace-syncs=10",
                "--concurrent-gc-syncs=20",
            ],
        )
        supervisor.wait_ready(controllers, lambda: True, timeout=2)

    def _api_ready(self) -> bool:
        return procs.http_ok(f"{self.server}/readyz", token=self.token, ca_file=str(self.ca_file))
