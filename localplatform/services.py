"""Tenantry's own processes on the local platform: the operator, control-plane replicas and the
shared app plane.

Each runs as `python -m …` from the repository under the platform's Supervisor, with the
platform's environment (`localplatform.devenv`), and counts as started once its health endpoint
answers. Only a control plane gets the token-signing key. `localplatform.stack.Platform` calls
these with its ports and keeps the processes by name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from localplatform import kube, procs

OPERATOR = "operator"
CONTROL_PLANE = "control-plane"  # and the prefix of every replica's name
APP_PLANE = "app-plane"
SIGNING_KEY = "JWT_PRIVATE_KEY"


def healthz(port: int) -> str:
    return f"http://127.0.0.1:{port}/healthz"


def process_env(name: str, env: Mapping[str, str]) -> dict[str, str]:
    """The environment of the process `name`: all of `env`, less the signing key unless it is
    a control plane (only the control plane signs tokens)."""
    if name.startswith(CONTROL_PLANE):
        return dict(env)
    return {k: v for k, v in env.items() if k != SIGNING_KEY}


def operator_args(*, health_port: int, peering: str | None = None) -> list[str]:
    """kopf running the operator's handlers for every namespace, logging JSON lines (with the
    Tenant's reference where kopf knows it): alone, or in the cluster-wide `peering` (a
    ClusterKopfPeering of that name), as deploy/ runs it."""
    return [
        "-m",
        "kopf",
        "run",
        "--standalone" if peering is None else f"--peering={peering}",
        "--all-namespaces",
        "--log-format=json",
        f"--liveness={healthz(health_port)}",
        "-m",
        "tenantry_operator.handlers",
    ]


def operator_env(*, metrics_port: int) -> dict[str, str]:
    """What the operator runs with here, as deploy/base/operator.yaml runs it: glibc's malloc
    keeps two arenas, not eight a core, so the operator's threads do not each keep their own."""
    return {
        "TENANTRY_METRICS_PORT": str(metrics_port),
        "TENANTRY_METRICS_ADDRESS": "127.0.0.1",
        "MALLOC_ARENA_MAX": "2",
    }


def start(
    supervisor: procs.Supervisor,
    name: str,
    args: list[str],
    *,
    env: Mapping[str, str],
    health_port: int,
    timeout: float = 60,
) -> procs.Process:
    """Start `python <args>` as `name` and wait until its health endpoint answers."""
    process = supervisor.start(
        name, [sys.executable, *args], env=process_env(name, env), cwd=kube.REPO_ROOT
    )
    supervisor.wait_ready(process, lambda: procs.http_ok(healthz(health_port)), timeout=timeout)
    return process


def start_operator(
    supervisor: procs.Supervisor,
    *,
    env: Mapping[str, str],
    extra_env: Mapping[str, str],
    health_port: int,
    metrics_port: int,
    peering: str | None = None,
) -> procs.Process:
    """The operator, its metrics on `metrics_port` unless `extra_env` says otherwise."""
    return start(
        supervisor,
        OPERATOR,
        operator_args(health_port=health_port, peering=peering),
        env={**env, **operator_env(metrics_port=metrics_port), **extra_env},
        health_port=health_port,
    )


def migrate_control_plane(env: Mapping[str, str]) -> None:
    """The control plane's migrations and first platform admin (`control_plane.prestart`)."""
    subprocess.run(
        [sys.executable, "-m", "control_plane.prestart"],
        env={**os.environ, **env},
        check=True,
        cwd=kube.REPO_ROOT,
    )


def start_control_plane(
    supervisor: procs.Supervisor,
    name: str,
    *,
    env: Mapping[str, str],
    extra_env: Mapping[str, str],
    port: int,
) -> procs.Process:
    """Migrate, then start a control-plane replica (`name` tells replicas apart)."""
    migrate_control_plane(env)
    args = procs.uvicorn_args("control_plane.main:app", port)
    return start(supervisor, name, args, env={**env, **extra_env}, health_port=port)


def start_app_plane(
    supervisor: procs.Supervisor, *, env: Mapping[str, str], port: int
) -> procs.Process:
    args = procs.uvicorn_args("app_plane.main:app", port)
    return start(supervisor, APP_PLANE, args, env=env, health_port=port)
