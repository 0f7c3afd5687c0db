"""The OCI documents the simulated node reads and writes, as pure functions of literal data.

An image layout's index (which manifest a tag names), an image's config (command, environment,
numeric user), the runtime spec `runc` runs an app-plane pod from (host network, read-only
root, the pod's environment), container ids, and which runtime the node picks
(`choose_runtime`). `localplatform.containers` reads the layout and runs `runc` with these;
`tests/integration/test_images.py` checks the built image with them too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

REF_NAME = "org.opencontainers.image.ref.name"
REQUIRED_LABELS = ("org.opencontainers.image.source", "org.opencontainers.image.version")
Runtime = Literal["runc", "process"]
Setting = Literal["auto", "runc", "process"]
SETTINGS: tuple[Setting, ...] = ("auto", "runc", "process")


class ImageError(ValueError):
    """An image or its layout is not what the node can run; the message says why."""


@dataclass(frozen=True)
class ImageConfig:
    """What an image's config says about running it."""

    args: list[str]  # Entrypoint + Cmd
    env: dict[str, str]
    uid: int
    gid: int
    cwd: str
    labels: dict[str, str]


def manifest_descriptor(index: Mapping[str, Any], tag: str) -> dict[str, Any]:
    """The descriptor of the manifest `tag` names in an image layout's `index.json`."""
    for descriptor in index.get("manifests", []):
        if descriptor.get("annotations", {}).get(REF_NAME) == tag:
            return dict(descriptor)
    raise ImageError(f"the image layout has no tag {tag!r}")


def blob_path(digest: str) -> str:
    """Where a blob lives in a layout, relative to it: `blobs/<algorithm>/<hex>`."""
    algorithm, _, hexdigest = digest.partition(":")
    if not re.fullmatch(r"[a-z0-9]+", algorithm) or not re.fullmatch(r"[a-f0-9]{32,}", hexdigest):
        raise ImageError(f"not a digest: {digest!r}")
    return f"blobs/{algorithm}/{hexdigest}"


def parse_user(user: str) -> tuple[int, int]:
    """`uid[:gid]`, both numeric (a name would need the image's /etc/passwd) and not root."""
    uid_text, _, gid_text = user.partition(":")
    if not uid_text.isdigit() or (gid_text and not gid_text.isdigit()):
        raise ImageError(f"the image's user must be numeric uid[:gid], not {user!r}")
    uid = int(uid_text)
    if uid == 0:
        raise ImageError("the image's user must not be root (uid 0)")
    return uid, int(gid_text) if gid_text else uid


def image_config(blob: Mapping[str, Any]) -> ImageConfig:
    """The runnable part of an image config blob (`application/vnd.oci.image.config.v1+json`)."""
    config = blob.get("config") or {}
    args = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    if not args:
        raise ImageError("the image has neither an entry point nor a command")
    env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
    uid, gid = parse_user(str(config.get("User", "")))
    return ImageConfig(
        args=args,
        env=env,
        uid=uid,
        gid=gid,
        cwd=str(config.get("WorkingDir") or "/"),
        labels=dict(config.get("Labels") or {}),
    )


def missing_labels(image: ImageConfig) -> list[str]:
    """The OCI labels every Tenantry image must carry that this one lacks."""
    return [label for label in REQUIRED_LABELS if not image.labels.get(label)]


def container_id(key: str, incarnation: int) -> str:
    """A runc container id for one run of the pod `key` (`namespace/name/uid`)."""
    return re.sub(r"[^\w.-]", "_", key) + f".{incarnation}"


def _mount(destination: str, kind: str, options: Sequence[str]) -> dict[str, Any]:
    return {"destination": destination, "type": kind, "source": kind, "options": list(options)}


# Paths inside the container (its own tmpfs), not the host's temporary folders.
MOUNTS = (
    _mount("/proc", "proc", ["nosuid", "noexec", "nodev"]),
    _mount("/dev", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
    _mount("/dev/pts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
    _mount("/dev/shm", "tmpfs", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),  # noqa: S108
    _mount("/dev/mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
    _mount("/tmp", "tmpfs", ["nosuid", "nodev", "mode=1777", "size=65536k"]),  # noqa: S108
)


def runtime_spec(image: ImageConfig, *, rootfs: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The OCI runtime spec (`config.json`) of one app-plane container on the simulated node.

    Like a `hostNetwork` pod: no network namespace (it listens on the host's loopback), its own
    pid, ipc and mount namespaces; the image's user with no capabilities; the image's shared
    root read-only with a tmpfs `/tmp`; the image's environment overridden by `env` (the
    pod's). No `linux.resources`: cgroups v1 hosts refuse them, and the node sets no limits.
    """
    merged = {**image.env, **env}
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": image.uid, "gid": image.gid},
            "args": list(image.args),
            "env": [f"{k}={v}" for k, v in merged.items()],
            "cwd": image.cwd,
            "capabilities": {s: [] for s in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "mounts": [dict(m) for m in MOUNTS],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "mount")],
            "maskedPaths": [
                "/proc/kcore",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/sched_debug",
                "/proc/scsi",
                "/sys/firmware",
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }


def choose_runtime(
    setting: str, *, runc_found: bool, umoci_found: bool, root: bool, image_error: str | None
) -> tuple[Runtime, str]:
    """Which runtime runs app-plane pods, and why. `auto` takes runc when it can (runc and
    umoci installed, running as root, the image built) and processes otherwise; `runc` refuses
    to fall back (ImageError); `process` always runs processes."""
    if setting not in SETTINGS:
        raise ImageError(f"pod runtime must be one of {', '.join(SETTINGS)}, not {setting!r}")
    if setting == "process":
        return "process", "pod runtime set to process"
    missing = [
        reason
        for reason, bad in (
            ("runc is not installed", not runc_found),
            ("umoci is not installed", not umoci_found),
            ("runc needs root", not root),
            (image_error or "", image_error is not None),
        )
        if bad
    ]
    if not missing:
        return "runc", "the app-plane image and runc are here"
    if setting == "runc":
        raise ImageError("pod runtime runc: " + "; ".join(missing))
    return "process", "; ".join(missing)
