"""The OCI documents of the simulated node, from literal layouts, configs and settings."""

from typing import Any

import pytest

from localplatform import ocispec

DIGEST = "sha256:" + "ab" * 32


def config_blob(**config: Any) -> dict[str, Any]:
    base = {
        "User": "65532:65532",
        "Cmd": ["uvicorn", "app_plane.main:app"],
        "Env": ["PATH=/opt/tenantry/bin:/usr/bin", "UVICORN_PORT=8000", "EMPTY="],
        "WorkingDir": "/opt/tenantry",
        "Labels": {
            "org.opencontainers.image.source": "https://example.com/tenantry",
            "org.opencontainers.image.version": "0.1.0",
        },
    }
    return {"architecture": "amd64", "os": "linux", "config": {**base, **config}}


def test_a_tag_names_its_manifest_in_the_index() -> None:
    index = {
        "manifests": [
            {"digest": "sha256:1", "annotations": {ocispec.REF_NAME: "operator"}},
            {"digest": DIGEST, "annotations": {ocispec.REF_NAME: "app-plane"}},
        ]
    }
    assert ocispec.manifest_descriptor(index, "app-plane")["digest"] == DIGEST
    with pytest.raises(ocispec.ImageError, match="no tag 'control-plane'"):
        ocispec.manifest_descriptor(index, "control-plane")


def test_blobs_live_under_their_algorithm() -> None:
    assert ocispec.blob_path(DIGEST) == "blobs/sha256/" + "ab" * 32
    for bad in ("sha256:../../etc/passwd", "nodigest", "sha256:XYZ"):
        with pytest.raises(ocispec.ImageError, match="not a digest"):
            ocispec.blob_path(bad)


@pytest.mark.parametrize(
    ("user", "expected"), [("65532:65532", (65532, 65532)), ("1000", (1000, 1000)), ("7:8", (7, 8))]
)
def test_the_user_is_numeric(user: str, expected: tuple[int, int]) -> None:
    assert ocispec.parse_user(user) == expected


@pytest.mark.parametrize(
    ("user", "error"),
    [("tenantry", "numeric"), ("", "numeric"), ("65532:staff", "numeric"), ("0:0", "not be root")],
)
def test_a_named_or_root_user_is_refused(user: str, error: str) -> None:
    with pytest.raises(ocispec.ImageError, match=error):
        ocispec.parse_user(user)


def test_the_config_gives_command_environment_user_and_labels() -> None:
    image = ocispec.image_config(config_blob(Entrypoint=["tini", "--"]))
    assert image.args == ["tini", "--", "uvicorn", "app_plane.main:app"]
    assert image.env == {"PATH": "/opt/tenantry/bin:/usr/bin", "UVICORN_PORT": "8000", "EMPTY": ""}
    assert (image.uid, image.gid, image.cwd) == (65532, 65532, "/opt/tenantry")
    assert ocispec.missing_labels(image) == []


def test_an_image_without_command_or_labels_is_reported() -> None:
    with pytest.raises(ocispec.ImageError, match="neither an entry point nor a command"):
        ocispec.image_config(config_blob(Cmd=None))
    unlabelled = ocispec.image_config(config_blob(Labels=None))
    assert ocispec.missing_labels(unlabelled) == list(ocispec.REQUIRED_LABELS)


def test_the_runtime_spec_is_a_host_network_pod_with_a_read_only_root() -> None:
    image = ocispec.image_config(config_blob())
    spec = ocispec.runtime_spec(
        image, rootfs="/images/rootfs/x/rootfs", env={"UVICORN_PORT": "41000", "A": "b"}
    )
    process = spec["process"]
    assert process["args"] == ["uvicorn", "app_plane.main:app"]
    assert process["user"] == {"uid": 65532, "gid": 65532}
    assert process["cwd"] == "/opt/tenantry"
    # The pod's environment overrides the image's.
    assert process["env"] == [
        "PATH=/opt/tenantry/bin:/usr/bin",
        "UVICORN_PORT=41000",
        "EMPTY=",
        "A=b",
    ]
    assert process["noNewPrivileges"] is True
    assert process["terminal"] is False
    assert all(caps == [] for caps in process["capabilities"].values())
    assert spec["root"] == {"path": "/images/rootfs/x/rootfs", "readonly": True}
    namespaces = {n["type"] for n in spec["linux"]["namespaces"]}
    assert namespaces == {"pid", "ipc", "mount"}  # no network namespace: the host's loopback
    assert "resources" not in spec["linux"]  # cgroups v1 hosts refuse them
    mounts = {m["destination"]: m["type"] for m in spec["mounts"]}
    assert mounts["/tmp"] == "tmpfs"  # noqa: S108 - the container's own


def test_container_ids_are_runc_safe_and_differ_per_run() -> None:
    first = ocispec.container_id("tenant-acme/app-0/1b2c-3d", 0)
    assert first == "tenant-acme_app-0_1b2c-3d.0"
    assert ocispec.container_id("tenant-acme/app-0/1b2c-3d", 1) != first


def choose(setting: str, **overrides: Any) -> tuple[str, str]:
    facts: dict[str, Any] = {
        "runc_found": True,
        "umoci_found": True,
        "root": True,
        "image_error": None,
        **overrides,
    }
    return ocispec.choose_runtime(setting, **facts)


def test_auto_takes_runc_when_everything_is_there() -> None:
    assert choose("auto")[0] == "runc"
    assert choose("runc")[0] == "runc"


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"runc_found": False}, "runc is not installed"),
        ({"umoci_found": False}, "umoci is not installed"),
        ({"root": False}, "runc needs root"),
        ({"image_error": "the image layout has no tag 'app-plane'"}, "no tag 'app-plane'"),
    ],
)
def test_auto_falls_back_to_processes_and_says_why(facts: dict[str, Any], reason: str) -> None:
    runtime, why = choose("auto", **facts)
    assert runtime == "process"
    assert reason in why
    with pytest.raises(ocispec.ImageError, match=reason):
        choose("runc", **facts)


def test_process_is_always_processes_and_bad_settings_are_refused() -> None:
    assert choose("process")[0] == "process"
    with pytest.raises(ocispec.ImageError, match="one of auto, runc, process"):
        choose("docker")
