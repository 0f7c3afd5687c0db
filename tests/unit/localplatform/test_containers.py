"""Reading an OCI image layout: a literal layout written to a temporary folder."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from localplatform import containers, ocispec


def put_blob(layout: Path, document: dict[str, Any]) -> str:
    data = json.dumps(document).encode()
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}"


def make_layout(layout: Path, user: str = "65532:65532") -> str:
    config = put_blob(
        layout, {"config": {"User": user, "Cmd": ["uvicorn", "app_plane.main:app"], "Env": []}}
    )
    manifest = put_blob(layout, {"schemaVersion": 2, "config": {"digest": config}, "layers": []})
    index = {"manifests": [{"digest": manifest, "annotations": {ocispec.REF_NAME: "app-plane"}}]}
    (layout / "index.json").write_text(json.dumps(index))
    return manifest


def test_a_tag_gives_its_digest_and_config(tmp_path: Path) -> None:
    manifest = make_layout(tmp_path)
    image = containers.Image(tmp_path, "app-plane")
    assert image.digest() == manifest
    assert image.config().args == ["uvicorn", "app_plane.main:app"]
    assert image.problem() is None


def test_what_keeps_an_image_from_running_is_said(tmp_path: Path) -> None:
    assert "cannot read index.json" in str(containers.Image(tmp_path / "none", "x").problem())
    make_layout(tmp_path, user="0")
    assert containers.Image(tmp_path, "operator").problem() == (
        "the image layout has no tag 'operator'"
    )
    assert "not be root" in str(containers.Image(tmp_path, "app-plane").problem())
    with pytest.raises(ocispec.ImageError):
        containers.Image(tmp_path, "app-plane").config()


def test_a_bundle_is_its_config(tmp_path: Path) -> None:
    bundle = containers.write_bundle(tmp_path / "c1", {"ociVersion": "1.0.2"})
    assert json.loads((bundle / "config.json").read_text()) == {"ociVersion": "1.0.2"}
