"""The S3 settings: a malformed URL or endpoint is refused at start-up, saying why; the bucket and
prefix give each snapshot's object key; without a URL the directory is the store."""

from pathlib import Path

import pydantic
import pytest
from tenantry_operator import settings, stores

BASE = {
    "TENANTRY_POSTGRES_ADMIN_URL": "postgresql://admin:pw@127.0.0.1:5432/postgres",
    "TENANTRY_APP_DB_PASSWORD": "pw",
    "TENANTRY_APP_JWT_PUBLIC_KEY": "key",
    "TENANTRY_SNAPSHOT_DIR": "/snapshots",
}


def configured(monkeypatch: pytest.MonkeyPatch, **env: str) -> settings.OperatorSettings:
    for name, value in {**BASE, **env}.items():
        monkeypatch.setenv(name, value)
    return settings.OperatorSettings()


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://backups", "backups", ""),
        ("s3://backups/", "backups", ""),
        ("s3://my.backups-1/tenantry/prod/", "my.backups-1", "tenantry/prod"),
    ],
)
def test_an_s3_url_names_a_bucket_and_a_prefix(url: str, bucket: str, prefix: str) -> None:
    assert settings.parse_s3_url(url) == settings.S3Location(bucket, prefix)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://backups/x", "no S3 URL"),
        ("backups/x", "no S3 URL"),
        ("s3://Backups/x", "no valid bucket name"),
        ("s3://b/x", "no valid bucket name"),
        ("s3://a..b/x", "no valid bucket name"),
        ("s3://key:secret@backups/x", "without credentials"),
        ("s3://backups/x?versionId=1", "without credentials, port or query"),
        ("s3://backups/a//b", "empty, . or .. segment"),
        ("s3://backups/a/../b", "empty, . or .. segment"),
    ],
)
def test_a_malformed_s3_url_is_refused_saying_why(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        settings.parse_s3_url(url)


def test_the_settings_refuse_a_malformed_url_or_endpoint_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(pydantic.ValidationError, match="snapshot_s3_url"):
        configured(monkeypatch, TENANTRY_SNAPSHOT_S3_URL="s3:/backups")
    with pytest.raises(pydantic.ValidationError, match="is no http"):
        configured(
            monkeypatch,
            TENANTRY_SNAPSHOT_S3_URL="s3://backups",
            TENANTRY_SNAPSHOT_S3_ENDPOINT="minio:9000",
        )


def test_the_directory_is_the_store_unless_a_bucket_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = stores.of(configured(monkeypatch))
    assert isinstance(plain, stores.DirectoryStore)
    assert plain.directory == Path("/snapshots")
    cfg = configured(
        monkeypatch,
        TENANTRY_SNAPSHOT_S3_URL="s3://backups/tenantry",
        TENANTRY_SNAPSHOT_S3_ENDPOINT="http://127.0.0.1:9000",
        TENANTRY_SNAPSHOT_S3_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="id",
        AWS_SECRET_ACCESS_KEY="secret",
    )
    bucket = stores.of(cfg)
    assert isinstance(bucket, stores.S3Store)
    assert bucket.where == "s3://backups/tenantry"
    assert bucket.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert bucket.client.meta.region_name == "eu-west-1"
    assert stores.of(cfg) is bucket  # one client, shared


def test_object_keys_sit_under_the_prefix() -> None:
    assert stores.object_key("tenantry/prod", "acme-1234.dump") == "tenantry/prod/acme-1234.dump"
    assert stores.object_key("", "acme-1234.json") == "acme-1234.json"


def test_the_directory_store_takes_plain_names_only(tmp_path: Path) -> None:
    store = stores.DirectoryStore(tmp_path)
    with pytest.raises(ValueError, match="not a key"):
        store.write("../escape.json", b"{}")
    assert store.keys("") == set()
