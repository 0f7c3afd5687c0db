"""A snapshot counts as written only once its manifest is there and matches the archive."""

import hashlib
import json
from pathlib import Path

from tenantry_operator import snapshots


def write(directory: Path, name: str, archive: bytes, **manifest: object) -> None:
    (directory / f"{name}.dump").write_bytes(archive)
    (directory / f"{name}.json").write_text(json.dumps({"file": f"{name}.dump", **manifest}))


def test_a_complete_snapshot_is_reused(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"archive").hexdigest()
    write(tmp_path, "acme-1234abcd", b"archive", sha256=digest, rows={"notes": 2})
    found = snapshots.written(tmp_path, "acme-1234abcd")
    assert found is not None
    assert found["rows"] == {"notes": 2}


def test_an_archive_without_its_manifest_or_not_matching_it_is_not_a_snapshot(
    tmp_path: Path,
) -> None:
    assert snapshots.written(tmp_path, "none") is None
    (tmp_path / "half.dump").write_bytes(b"archive")  # died before the manifest
    assert snapshots.written(tmp_path, "half") is None
    write(tmp_path, "changed", b"other", sha256=hashlib.sha256(b"archive").hexdigest())
    assert snapshots.written(tmp_path, "changed") is None
    write(tmp_path, "gone", b"archive", sha256=hashlib.sha256(b"archive").hexdigest())
    (tmp_path / "gone.dump").unlink()
    assert snapshots.written(tmp_path, "gone") is None
    (tmp_path / "broken.json").write_text("{not json")
    assert snapshots.written(tmp_path, "broken") is None


def test_a_manifest_from_before_checksums_vouches_for_its_archive(tmp_path: Path) -> None:
    write(tmp_path, "old", b"archive", rows={"notes": 1})
    assert snapshots.written(tmp_path, "old") is not None
