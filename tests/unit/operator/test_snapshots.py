"""A snapshot counts as written only once its manifest is there and matches the archive; the
same holds in either store (the snapshot directory, or an S3 bucket: moto's in-process S3), and
listing, fetching and removing behave alike in both."""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import boto3.s3.transfer
import moto
import pytest
from tenantry_operator import settings, snapshots, stores


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[stores.Store]:
    if request.param == "directory":
        yield stores.DirectoryStore(tmp_path / "snapshots")
        return
    yield from bucket()


def bucket() -> Iterator[stores.S3Store]:
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="backups")
        yield stores.S3Store(settings.S3Location("backups", "tenantry/prod"), client)


@pytest.fixture
def s3() -> Iterator[stores.S3Store]:
    yield from bucket()


def write(store: stores.Store, name: str, archive: bytes, **manifest: object) -> None:
    store.write(f"{name}.dump", archive)
    store.write(f"{name}.json", json.dumps({"file": f"{name}.dump", **manifest}).encode())


def test_a_complete_snapshot_is_reused(store: stores.Store) -> None:
    digest = hashlib.sha256(b"archive").hexdigest()
    write(store, "acme-1234abcd", b"archive", sha256=digest, rows={"notes": 2})
    found = snapshots.written(store, "acme-1234abcd")
    assert found is not None
    assert found["rows"] == {"notes": 2}


def test_an_archive_without_its_manifest_or_not_matching_it_is_not_a_snapshot(
    store: stores.Store,
) -> None:
    assert snapshots.written(store, "none") is None
    store.write("half.dump", b"archive")  # died before the manifest
    assert snapshots.written(store, "half") is None
    write(store, "changed", b"other", sha256=hashlib.sha256(b"archive").hexdigest())
    assert snapshots.written(store, "changed") is None
    write(store, "gone", b"archive", sha256=hashlib.sha256(b"archive").hexdigest())
    store.delete("gone.dump")
    assert snapshots.written(store, "gone") is None
    store.write("broken.json", b"{not json")
    assert snapshots.written(store, "broken") is None


def test_a_manifest_from_before_checksums_vouches_for_its_archive(store: stores.Store) -> None:
    write(store, "old", b"archive", rows={"notes": 1})
    assert snapshots.written(store, "old") is not None


def test_fetching_checks_the_archive_and_says_which_is_missing_or_corrupt(
    store: stores.Store,
) -> None:
    write(store, "good", b"archive", sha256=hashlib.sha256(b"archive").hexdigest())
    with snapshots.fetched(store, "good.dump") as (manifest, local):
        assert local.read_bytes() == b"archive"
        assert manifest["file"] == "good.dump"
    assert not local.exists()  # the local copy is temporary
    with pytest.raises(snapshots.SnapshotMissing, match=r"no snapshot 'other\.dump' in "):
        snapshots.verified(store, "other.dump")
    with pytest.raises(snapshots.SnapshotMissing):
        snapshots.verified(store, "../good.dump")  # no snapshot name
    store.write("good.dump", b"archive, tampered")
    with pytest.raises(snapshots.SnapshotCorrupt):
        snapshots.verified(store, "good.dump")


def test_listing_by_prefix_sees_complete_snapshots_and_removing_is_idempotent(
    store: stores.Store,
) -> None:
    for name in ("acme-1-backup-a", "acme-1-backup-b", "acme-2-backup-a", "other-1-backup-a"):
        write(store, name, b"x", rows={})
    store.write("acme-1-backup-c.dump", b"half")  # no manifest: no snapshot
    assert list(snapshots.listed(store, "acme-1-")) == ["acme-1-backup-a", "acme-1-backup-b"]
    snapshots.remove(store, "acme-1-backup-a")
    snapshots.remove(store, "acme-1-backup-a")
    assert list(snapshots.listed(store, "acme-1-")) == ["acme-1-backup-b"]
    assert store.keys("acme-1-backup-a") == set()
    assert store.read("acme-1-backup-a.json") is None


def test_a_big_archive_is_put_and_got_whole(store: stores.Store, tmp_path: Path) -> None:
    big = tmp_path / "big.dump"
    big.write_bytes(bytes(range(256)) * 4096 * 5)  # 5 MiB, over the transfer's part size below
    if isinstance(store, stores.S3Store):
        store.transfer = boto3.s3.transfer.TransferConfig(
            multipart_threshold=5 << 20, multipart_chunksize=5 << 20
        )
    store.put(big, "big.dump")
    back = tmp_path / "back.dump"
    assert store.get("big.dump", back)
    assert back.read_bytes() == big.read_bytes()
    assert not store.get("nothing.dump", back)


def test_the_bucket_is_not_asked_again_for_a_manifest_it_listed_unchanged(
    s3: stores.S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = s3
    write(store, "acme-1-backup-a", b"x", rows={"notes": 1})
    fetched: list[str] = []
    get_object = store.client.get_object

    def counted(**kwargs: str) -> object:
        fetched.append(kwargs["Key"])
        return get_object(**kwargs)

    monkeypatch.setattr(store.client, "get_object", counted)
    assert snapshots.listed(store, "acme-1-")["acme-1-backup-a"]["rows"] == {"notes": 1}
    assert snapshots.listed(store, "acme-1-")["acme-1-backup-a"]["rows"] == {"notes": 1}
    assert fetched == ["tenantry/prod/acme-1-backup-a.json"]
    write(store, "acme-1-backup-a", b"x", rows={"notes": 2})  # changed: read again
    assert snapshots.listed(store, "acme-1-")["acme-1-backup-a"]["rows"] == {"notes": 2}
    assert len(fetched) == 2
