"""Where snapshots and backups are kept: a directory (the default) or an S3-compatible bucket.

One small interface, `Store`, over flat keys (`<name>.dump`, `<name>.json`): put a local file,
get one to a local file, read and write a small object whole, list by prefix, delete. A key is
whole or absent in both: the directory writes under a temporary name and renames; S3 shows an
object (multipart uploads included, through boto3's transfer manager) only once it is complete.
`snapshots` builds on it (the manifest last, checksums), and `of` picks the store the operator's
settings name (`snapshots`, `backups`, `restoring` and `steps` ask it). S3 credentials come from
boto3's standard chain (AWS_* variables, profiles, instance roles) and are never logged.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import boto3
import boto3.s3.transfer
import botocore.config
import botocore.exceptions

from tenantry_operator import settings

MISSING = {"404", "NoSuchKey", "NotFound"}


class StoreUnavailable(OSError):
    """The store could not be read or written (an S3 endpoint down, access denied, ...)."""


class Store(Protocol):
    """Flat keys holding whole objects."""

    where: str  # said in messages: the directory or the bucket, never a credential

    def put(self, local: Path, key: str) -> None:
        """Store a copy of the local file under `key` (replacing any)."""

    def get(self, key: str, local: Path) -> bool:
        """Copy the object to the local file; False if there is none."""

    def read(self, key: str) -> bytes | None:
        """The whole object; None if there is none."""

    def write(self, key: str, data: bytes) -> None:
        """Store `data` whole under `key` (replacing any)."""

    def keys(self, prefix: str) -> set[str]:
        """Every key starting with `prefix`."""

    def delete(self, key: str) -> None:
        """Delete the object if there is one."""


class DirectoryStore:
    """Keys are file names in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.where = f"the snapshot directory {directory}"

    def _path(self, key: str) -> Path:
        if "/" in key or key.startswith("."):
            raise ValueError(f"not a key of the snapshot directory: {key!r}")
        return self.directory / key

    def put(self, local: Path, key: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self._path(key).with_name(f"{key}.partial")
        shutil.copyfile(local, partial)
        partial.replace(self._path(key))  # atomic: the key is always whole

    def get(self, key: str, local: Path) -> bool:
        try:
            shutil.copyfile(self._path(key), local)
        except FileNotFoundError:
            return False
        return True

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self._path(key).with_name(f"{key}.partial")
        partial.write_bytes(data)
        partial.replace(self._path(key))

    def keys(self, prefix: str) -> set[str]:
        if not self.directory.is_dir():
            return set()
        return {
            p.name
            for p in self.directory.iterdir()
            if p.name.startswith(prefix) and not p.name.endswith(".partial") and p.is_file()
        }

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def object_key(prefix: str, key: str) -> str:
    """The bucket's key of a store key under the configured prefix."""
    return f"{prefix}/{key}" if prefix else key


class S3Store:
    """Keys are objects under a prefix of a bucket of an S3-compatible server."""

    def __init__(self, location: settings.S3Location, client: Any) -> None:
        self.location, self.client = location, client
        self.where = f"s3://{location.bucket}/{location.prefix}"
        self.transfer = boto3.s3.transfer.TransferConfig(multipart_threshold=64 << 20)
        # The backup timer lists every tenant's backups each second: a small object read before
        # is not fetched again while its listed ETag is the one it had (manifests never change).
        self.etags: dict[str, str] = {}
        self.cached: dict[str, tuple[str, bytes]] = {}

    def _key(self, key: str) -> str:
        return object_key(self.location.prefix, key)

    def put(self, local: Path, key: str) -> None:
        with _translated(key):
            self.client.upload_file(
                str(local), self.location.bucket, self._key(key), Config=self.transfer
            )

    def get(self, key: str, local: Path) -> bool:
        try:
            with _translated(key):
                self.client.download_file(
                    self.location.bucket, self._key(key), str(local), Config=self.transfer
                )
        except KeyError:
            return False
        return True

    def read(self, key: str) -> bytes | None:
        etag, data = self.cached.get(key, ("", b""))
        if etag and etag == self.etags.get(key):
            return data
        try:
            with _translated(key):
                found = self.client.get_object(Bucket=self.location.bucket, Key=self._key(key))
                data = bytes(found["Body"].read())
        except KeyError:
            return None
        self.cached[key] = (str(found.get("ETag", "")), data)
        return data

    def write(self, key: str, data: bytes) -> None:
        with _translated(key):
            self.client.put_object(Bucket=self.location.bucket, Key=self._key(key), Body=data)

    def keys(self, prefix: str) -> set[str]:
        start = self._key(prefix)
        skip = len(self._key(""))
        found: set[str] = set()
        with _translated(prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=start
            )
            for page in pages:
                for listed in page.get("Contents", []):
                    key = str(listed["Key"])[skip:]
                    found.add(key)
                    self.etags[key] = str(listed.get("ETag", ""))
        return found

    def delete(self, key: str) -> None:
        self.cached.pop(key, None)
        self.etags.pop(key, None)
        with _translated(key):
            self.client.delete_object(Bucket=self.location.bucket, Key=self._key(key))


@contextlib.contextmanager
def _translated(key: str) -> Iterator[None]:
    """Turns a missing object into KeyError and any other S3 failure into StoreUnavailable."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in MISSING:
            raise KeyError(key) from exc
        raise StoreUnavailable(f"S3 refused {key}: {code}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise StoreUnavailable(f"S3 failed on {key}: {exc}") from exc


@functools.cache
def _s3(location: settings.S3Location, endpoint: str | None, region: str | None) -> S3Store:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"}),
    )
    return S3Store(location, client)


def of(cfg: settings.OperatorSettings) -> Store:
    """The store the settings name: S3 when TENANTRY_SNAPSHOT_S3_URL is set, else the
    directory. One S3 client per location, shared by every thread (boto3 clients are)."""
    location = cfg.snapshot_s3
    if location is None:
        return DirectoryStore(cfg.snapshot_dir)
    return _s3(location, cfg.snapshot_s3_endpoint, cfg.snapshot_s3_region)
