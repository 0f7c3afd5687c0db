"""Which cluster `make dev` uses: its own, or the one in KUBECONFIG."""

from pathlib import Path

import pytest

from localplatform import stack


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> stack.Platform:
    for var in ("KUBECONFIG", "KUBE_ASSETS", "KUBEBUILDER_ASSETS"):
        monkeypatch.delenv(var, raising=False)
    return stack.Platform(tmp_path / "state")


def test_no_kubeconfig_starts_our_own(platform: stack.Platform) -> None:
    assert platform.existing_kubeconfig() is None


def test_kubeconfig_of_another_cluster_is_used(
    platform: stack.Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = tmp_path / "kind-config"
    kind.write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", str(kind))
    assert platform.existing_kubeconfig() == kind.resolve()
    monkeypatch.setenv("KUBE_ASSETS", str(tmp_path))
    assert platform.existing_kubeconfig() is None


def test_a_sourced_dev_env_of_a_stopped_platform_is_ignored(
    platform: stack.Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old-state"
    (old / "kube").mkdir(parents=True)
    (old / "postgres").mkdir()
    (old / "kube" / "kubeconfig").write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", str(old / "kube" / "kubeconfig"))
    assert platform.existing_kubeconfig() is None
