"""App-plane pods really run: readiness follows the process, a dead process is restarted."""

from __future__ import annotations

import os
import signal
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from kubernetes import client

from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def listener(port: int) -> int:
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            assert conn.pid is not None
            return conn.pid
    raise AssertionError(f"nothing listens on {port}")


def test_killed_app_process_is_restarted_and_readiness_follows(
    custom: client.CustomObjectsApi,
    core: client.CoreV1Api,
    env: dict[str, str],
) -> None:
    name = support.unique("pods")
    support.create_tenant(custom, name, tier="enterprise")
    support.wait_ready(custom, name)
    namespace = f"tenant-{name}"
    pod = core.list_namespaced_pod(namespace).items[0]
    url = pod.metadata.annotations["sim.tenantry.dev/url"]
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}

    os.kill(listener(urlsplit(url).port or 0), signal.SIGKILL)

    def restarted() -> client.V1Pod | None:
        current = core.read_namespaced_pod(pod.metadata.name, namespace)
        status = current.status.container_statuses[0]
        ready = {c.type: c.status for c in current.status.conditions}["Ready"]
        return current if status.restart_count == 1 and ready == "True" else None

    current = eventually(restarted, timeout=30, what="pod restarted and Ready")
    new_url = current.metadata.annotations["sim.tenantry.dev/url"]
    headers = support.token_for(env, name)
    assert httpx.get(new_url + "/api/projects", headers=headers).json() == []
