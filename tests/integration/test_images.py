"""The image `make images` builds, and the app plane's pods running from it as runc containers.

The OCI layout is valid (every blob matches its digest; skopeo and umoci read each tag), each
tag runs as a numeric non-root user with the OCI labels, no compiler, pip or cache is left in
it, the docker archives carry the tags `kind load` wants, and the app plane's entry point,
started with runc, answers /healthz as uid 65532 on a read-only root. On the session platform
the simulated node runs the shared app's pods from that image.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from localplatform import containers, ocispec, pods, stack
from tenantry_core import tokens
from tests.conftest import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("runc") is None or os.geteuid() != 0,
        reason="runc containers need runc and root: pods run as processes on this machine",
    ),
]
LAYOUT = pods.DEFAULT_LAYOUT
TAGS = ("operator", "control-plane", "app-plane")


def inspect(*args: str) -> dict[str, Any]:
    done = subprocess.run(["skopeo", "inspect", *args], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def app_image() -> containers.Image:
    image = containers.Image(LAYOUT, pods.APP_PLANE_TAG)
    assert image.problem() is None, f"{image.problem()}: build the image with `make images`"
    return image


def process_of(runc_root: Path, container_id: str) -> int:
    state = subprocess.run(
        ["runc", "--root", str(runc_root), "state", container_id],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(json.loads(state.stdout)["pid"])


def test_the_layout_is_valid_and_every_tag_is_labelled_and_non_root(
    app_image: containers.Image,
) -> None:
    for blob in (LAYOUT / "blobs" / "sha256").iterdir():
        digest = hashlib.sha256()
        with blob.open("rb") as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
        assert digest.hexdigest() == blob.name, f"blob {blob.name} is corrupt"
    for tag in TAGS:
        subprocess.run(
            ["umoci", "stat", "--image", f"{LAYOUT}:{tag}"], check=True, stdout=subprocess.DEVNULL
        )
        image = ocispec.image_config(inspect("--config", f"oci:{LAYOUT}:{tag}"))
        assert image.uid != 0  # image_config also refuses a user that is not numeric
        assert ocispec.missing_labels(image) == [], tag
        annotations = inspect("--raw", f"oci:{LAYOUT}:{tag}").get("annotations", {})
        assert {k: annotations.get(k) for k in ocispec.REQUIRED_LABELS} == {
            k: image.labels[k] for k in ocispec.REQUIRED_LABELS
        }
        archive = inspect(f"docker-archive:{LAYOUT.parent / f'{tag}.tar'}")
        assert archive["Labels"] == image.labels
        listed = subprocess.run(
            ["skopeo", "list-tags", f"docker-archive:{LAYOUT.parent / f'{tag}.tar'}"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"tenantry/{tag}:dev" in listed.stdout
    assert app_image.config().args[:2] == ["uvicorn", "app_plane.main:app"]


def test_no_compiler_pip_or_cache_is_left(app_image: containers.Image) -> None:
    root = app_image.rootfs()
    for left in ("usr/bin/gcc", "usr/bin/cc", "opt/tenantry/bin/pip", "root/.cache"):
        assert not (root / left).exists(), left
    assert list((root / "var/lib/apt/lists").glob("*_Packages")) == []
    assert list(root.glob("opt/tenantry/lib/python3*/site-packages/pip")) == []


@pytest.fixture
def app_container(
    app_image: containers.Image, tmp_path: Path
) -> Iterator[tuple[pods.PodProcess, Path]]:
    runtime = pods.ContainerRuntime(app_image, tmp_path / "runc")
    runner = pods.PodRunner(tmp_path / "logs", runtime)
    env = {
        "JWT_PUBLIC_KEY": tokens.public_key_pem(tokens.generate_signing_key()),
        "TENANTRY_APP_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
    }
    try:
        yield runner.start("images/healthz/1", env), runtime.runc.root
    finally:
        runner.stop_all()


def test_the_app_plane_entry_point_answers_healthz_under_runc(
    app_container: tuple[pods.PodProcess, Path],
) -> None:
    pod, runc_root = app_container
    eventually(pod.ready, timeout=30, what="the container's /healthz")
    assert httpx.get(pod.url + "/healthz").json() == {"status": "ok"}
    pid = process_of(runc_root, pod.container_id)
    assert "Uid:\t65532\t" in Path(f"/proc/{pid}/status").read_text()
    root_mount = next(
        line.split()
        for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
        if line.split()[4] == "/"
    )
    assert "ro" in root_mount[5].split(","), root_mount
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")


def test_the_nodes_app_pods_run_from_the_image(
    platform: stack.Platform, core: client.CoreV1Api, app_image: containers.Image
) -> None:
    if platform.pod_runtime == "process":
        pytest.skip("TENANTRY_POD_RUNTIME=process: this platform runs pods as processes")

    def ready_pods() -> list[client.V1Pod] | None:
        found = core.list_namespaced_pod(
            "tenantry-system", label_selector="app.kubernetes.io/name=tenantry-app"
        ).items
        ready = [
            p for p in found if p.status.container_statuses and p.status.container_statuses[0].ready
        ]
        return ready or None

    pod = eventually(ready_pods, timeout=60, what="a Ready shared app pod")[0]
    status = pod.status.container_statuses[0]
    assert status.container_id.startswith("runc://")
    assert status.image_id == f"tenantry/app-plane@{app_image.digest()}"
    pid = process_of(platform.state_dir / "runc" / "state", status.container_id[len("runc://") :])
    # Its root is the image's unpacked root filesystem (the same files, seen from inside).
    assert os.path.samefile(f"/proc/{pid}/root/opt/tenantry", app_image.rootfs() / "opt/tenantry")
    assert "Uid:\t65532\t" in Path(f"/proc/{pid}/status").read_text()
    url = pod.metadata.annotations["sim.tenantry.dev/url"]
    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    logs = platform.state_dir / "logs" / "pods"
    [log] = logs.glob(f"tenantry-system_{pod.metadata.name}_*.log")
    assert "Application startup complete" in log.read_text()


def test_the_node_refuses_runc_without_the_image(tmp_path: Path) -> None:
    """Before it touches any cluster (the kubeconfig is never read)."""
    node = subprocess.run(
        [
            *(sys.executable, "-m", "localplatform.node"),
            *("--kubeconfig", str(tmp_path / "no-kubeconfig")),
            *("--pod-runtime", "runc", "--image-layout", str(tmp_path / "none")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert node.returncode == 2
    assert "error: pod runtime runc:" in node.stderr
    assert f"{tmp_path / 'none'}: cannot read index.json" in node.stderr
