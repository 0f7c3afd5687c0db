"""Which cluster `make dev` uses (its own, or the one in KUBECONFIG), and kubectl against it."""

from pathlib import Path

import pytest

from localplatform import kube, stack


@pytest.fixture(autouse=True)
def no_cluster_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KUBECONFIG", "KUBE_ASSETS", "KUBEBUILDER_ASSETS"):
        monkeypatch.delenv(var, raising=False)


def test_no_kubeconfig_starts_our_own(tmp_path: Path) -> None:
    assert kube.existing_kubeconfig() is None
    assert stack.Platform(tmp_path / "state").existing_kubeconfig() is None


def test_kubeconfig_of_another_cluster_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = tmp_path / "kind-config"
    kind.write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", str(kind))
    assert kube.existing_kubeconfig() == kind.resolve()
    monkeypatch.setenv("KUBE_ASSETS", str(tmp_path))
    assert kube.existing_kubeconfig() is None


def test_a_sourced_dev_env_of_a_stopped_platform_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old-state"
    (old / "kube").mkdir(parents=True)
    (old / "postgres").mkdir()
    (old / "kube" / "kubeconfig").write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", str(old / "kube" / "kubeconfig"))
    assert kube.existing_kubeconfig() is None


def test_kubectl_is_ours_when_we_have_the_binaries_else_the_one_on_path() -> None:
    config = Path("/state/kube/kubeconfig")
    ours = kube.Kubectl(config, Path("/assets"))
    assert ours.argv("get", "nodes") == [
        "/assets/kubectl",
        "--kubeconfig=/state/kube/kubeconfig",
        "get",
        "nodes",
    ]
    assert kube.Kubectl(config).argv("version")[0] == "kubectl"
