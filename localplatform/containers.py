"""Containers with `runc` from the OCI image layout `make images` builds, for the simulated node.

`Image` is one tag of a layout (`build/images/oci`): its manifest digest and its config
(`localplatform.ocispec`). `Image.rootfs()` unpacks it with `umoci` once per digest, next to
the layout (`build/images/rootfs/<digest>`), and every container of that image shares it
read-only. `Runc` runs a container in the foreground (its output is the container's), kills and
deletes it, under its own state root. `localplatform.pods` runs app-plane pods with these;
`tests/integration/test_images.py` checks the built image with them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from localplatform import ocispec

log = logging.getLogger("localplatform.containers")


@dataclass(frozen=True)
class Image:
    layout: Path
    tag: str

    def _json(self, relative: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.layout / relative).read_text())
        except (OSError, ValueError) as exc:
            raise ocispec.ImageError(f"{self.layout}: cannot read {relative}: {exc}") from exc
        return data

    def digest(self) -> str:
        """The digest of the manifest the tag names (ImageError when there is none)."""
        return str(ocispec.manifest_descriptor(self._json("index.json"), self.tag)["digest"])

    def config(self) -> ocispec.ImageConfig:
        manifest = self._json(ocispec.blob_path(self.digest()))
        return ocispec.image_config(self._json(ocispec.blob_path(manifest["config"]["digest"])))

    def problem(self) -> str | None:
        """Why this image cannot run (no layout, no tag, a bad config), or None."""
        try:
            self.config()
        except ocispec.ImageError as exc:
            return str(exc)
        return None

    def rootfs(self) -> Path:
        """The image's root filesystem, unpacked once per digest (atomically: concurrent
        nodes each unpack to a temporary folder and the first rename wins)."""
        digest = self.digest()
        target = self.layout.parent / "rootfs" / digest.replace(":", "-")
        if not target.exists():
            work = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            shutil.rmtree(work, ignore_errors=True)
            log.info("unpacking %s:%s (%s)", self.layout, self.tag, digest)
            subprocess.run(
                ["umoci", "unpack", "--image", f"{self.layout}:{self.tag}", str(work)],
                check=True,
                capture_output=True,
            )
            try:
                work.rename(target)
            except OSError:  # another node got there first
                shutil.rmtree(work, ignore_errors=True)
        return target / "rootfs"


@dataclass(frozen=True)
class Runc:
    """`runc` under its own state root (one per simulated node)."""

    root: Path

    def _runc(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["runc", "--root", str(self.root), *args], capture_output=True, check=False
        )

    def run(self, container_id: str, bundle: Path, out: IO[bytes]) -> subprocess.Popen[bytes]:
        """Start the container in the foreground: the Popen lives as long as its process, and
        runc deletes the container when it exits."""
        self.root.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            ["runc", "--root", str(self.root), "run", "--bundle", str(bundle), container_id],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def kill(self, container_id: str, signal: str = "KILL") -> None:
        self._runc("kill", container_id, signal)

    def delete(self, container_id: str) -> None:
        """Delete the container, stopping it first; nothing to do when it is gone."""
        self._runc("delete", "--force", container_id)

    def containers(self) -> list[str]:
        listing = self._runc("list", "--quiet")
        return listing.stdout.decode().split() if listing.returncode == 0 else []


def write_bundle(bundle: Path, spec: dict[str, Any]) -> Path:
    """A bundle folder holding only `config.json` (its root points at the shared rootfs)."""
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(spec, indent=1))
    return bundle


def tools_found() -> tuple[bool, bool]:
    """Whether runc and umoci are on PATH."""
    return shutil.which("runc") is not None, shutil.which("umoci") is not None
