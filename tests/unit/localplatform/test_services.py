"""How Tenantry's own processes run on the local platform: commands and environments."""

import pytest

from localplatform import services

ENV = {"JWT_PRIVATE_KEY": "signing", "JWT_PUBLIC_KEY": "verifying", "DATABASE_URL": "db"}


@pytest.mark.parametrize("name", ["control-plane", "control-plane-2"])
def test_a_control_plane_gets_the_signing_key(name: str) -> None:
    assert services.process_env(name, ENV) == ENV


@pytest.mark.parametrize("name", ["operator", "app-plane"])
def test_no_other_process_gets_the_signing_key(name: str) -> None:
    assert services.process_env(name, ENV) == {"JWT_PUBLIC_KEY": "verifying", "DATABASE_URL": "db"}


def test_the_operator_runs_every_namespaces_handlers_with_a_liveness_endpoint() -> None:
    args = services.operator_args(health_port=9001)
    assert args[:3] == ["-m", "kopf", "run"]
    assert "--standalone" in args
    assert "--all-namespaces" in args
    assert "--liveness=http://127.0.0.1:9001/healthz" in args
    assert args[-2:] == ["-m", "tenantry_operator.handlers"]
    assert services.operator_env(metrics_port=9002) == {
        "TENANTRY_METRICS_PORT": "9002",
        "TENANTRY_METRICS_ADDRESS": "127.0.0.1",
        "MALLOC_ARENA_MAX": "2",  # as deploy/base/operator.yaml runs it
    }


def test_the_operator_joins_a_cluster_wide_peering_when_named() -> None:
    args = services.operator_args(health_port=9001, peering="tenantry")
    assert "--peering=tenantry" in args
    assert "--standalone" not in args
    assert "--all-namespaces" in args
