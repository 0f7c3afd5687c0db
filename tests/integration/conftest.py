"""The real local platform for integration tests: Kubernetes, Postgres, kopf and both APIs.

Started once per test session by the same `localplatform.stack.Platform` that `make dev` runs,
in a temporary directory with free ports. Each test creates its own uniquely named tenants.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client, config

from localplatform import stack
from tests import oidc
from tests.conftest import eventually
from tests.integration import support


@pytest.fixture(scope="session")
def platform(request: pytest.FixtureRequest) -> Iterator[stack.Platform]:
    """The session's platform, in a directory of its own outside pytest's temporary tree
    (another pytest run on the machine prunes old trees, and Postgres's data with them). It
    is removed when every test passed, and kept with its logs otherwise."""
    state = Path(tempfile.mkdtemp(prefix="tenantry-test-platform-"))
    plat = stack.Platform(state, control_plane_env=support.SIGNUP_LIMITS)
    try:
        plat.start_infrastructure()
        plat.start_operator()
        plat.start_control_plane()
        plat.start_app_plane()
        yield plat
    finally:
        plat.stop()
        if request.session.testsfailed:
            print(f"\nthe test platform's state and logs are kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def env(platform: stack.Platform) -> dict[str, str]:
    found = platform.env()
    support.remember_maildir(found)
    return found


@pytest.fixture(scope="session")
def api(env: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=env["API_URL"] + "/api/v1", timeout=30) as http:
        eventually(lambda: http.get("/tiers").status_code == 200, what="tier catalog")
        yield http


@pytest.fixture(scope="session")
def app(env: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=env["APP_URL"] + "/api", timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def kube(platform: stack.Platform) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(platform.kubeconfig))


@pytest.fixture(scope="session")
def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


@pytest.fixture(scope="session")
def core(kube: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube)


@pytest.fixture
def control_db(env: dict[str, str]) -> Iterator[psycopg.Connection[Any]]:
    url = env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pool_admin(env: dict[str, str]) -> Iterator[psycopg.Connection[Any]]:
    url = env["TENANTRY_POSTGRES_ADMIN_URL"].rsplit("/", 1)[0] + "/" + env["TENANTRY_POOL_DATABASE"]
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[str, Any]]:
    """A test OpenID Connect issuer: the URL of its key set, and its signing key."""
    key = oidc.new_key()
    with oidc.serve_key_set(key) as url:
        yield url, key


@pytest.fixture(scope="module")
def oidc_replica(platform: stack.Platform, idp: tuple[str, Any]) -> Iterator[httpx.Client]:
    """A second control-plane replica on the same database that accepts the test issuer's
    OIDC tokens."""
    name = "control-plane-oidc"
    platform.start_control_plane(
        name,
        extra_env={
            "OIDC_ISSUER": oidc.ISSUER,
            "OIDC_AUDIENCE": "tenantry",
            "OIDC_JWKS_URL": idp[0],
        },
    )
    base = f"http://127.0.0.1:{platform.port(name)}/api/v1"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            eventually(lambda: http.get("/tiers").status_code == 200, what="replica tiers")
            yield http
    finally:
        platform.stop_process(name)
