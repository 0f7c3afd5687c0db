"""The operator's configuration, read once from the environment (TENANTRY_* variables)."""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenantry_core import schema, urls

HOME_SHARD = "main"  # the pool shard holding the routing catalog and the migration fence
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3's rules for a bucket's name


@dataclasses.dataclass(frozen=True)
class S3Location:
    """A bucket and the key prefix (no leading or trailing slash; may be empty) under which
    snapshots and backups are stored."""

    bucket: str
    prefix: str


def parse_s3_url(url: str) -> S3Location:
    """`s3://bucket` or `s3://bucket/some/prefix`; ValueError saying what is wrong otherwise (never
    repeating a credential the URL may hold)."""
    parts = urlsplit(url)
    shape = "expected s3://bucket or s3://bucket/prefix"
    if parts.scheme != "s3":
        raise ValueError(f"no S3 URL: {shape}")
    if "@" in parts.netloc or ":" in parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{shape}, without credentials, port or query")
    bucket = parts.netloc
    if not BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(
            f"{bucket!r} is no valid bucket name (S3's rules: 3 to 63 characters, "
            "lowercase letters, digits, dots and hyphens)"
        )
    prefix = parts.path.strip("/")
    if "//" in prefix or any(p in {".", ".."} for p in prefix.split("/")):
        raise ValueError(f"the prefix {prefix!r} has an empty, . or .. segment")
    return S3Location(bucket, prefix)


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TENANTRY_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    # A superuser connection to the Postgres server that holds the shared pool database.
    postgres_admin_url: SecretStr
    pool_database: str = "tenantry_pool"
    # Password of the shared app role `tenantry_app` (the app plane's pooled connection).
    app_db_password: SecretStr
    # Host and port written into tenants' Secrets; defaults to the admin URL's.
    postgres_public_host: str | None = None
    postgres_public_port: int | None = None
    # The servers silo databases may be placed on: a JSON object of server name to a superuser
    # URL, or a JSON list of URLs (each named host:port); default: the pool's server.
    silo_servers: dict[str, str] | list[str] = []
    # Servers (pool shards or silo servers, by name) new tenants are not placed on: being
    # drained, or kept for moves that name them. A Tenant, a move or a Tier's policy moves may
    # still name one.
    cordoned_servers: list[str] = []
    # Labels of servers (pool shards or silo servers) by name, as a JSON object of name to an
    # object of labels: a Tier's placement.matchLabel places tenants on servers labelled alike.
    server_labels: dict[str, dict[str, str]] = {}
    # More pool shards beside the home one (`main`: the admin URL's server, `pool_database`):
    # a JSON object of shard name to a superuser URL including the shard's database.
    pool_shards: dict[str, str] = {}
    # Where Snapshot deletions write their pg_dump archives, and restoreFrom reads them.
    snapshot_dir: Path = Path("/var/lib/tenantry/snapshots")
    # Or, when set, an S3-compatible bucket (s3://bucket/prefix) holds them instead; the endpoint
    # of a server other than AWS (MinIO, ...) and the region. Credentials: boto3's usual chain.
    snapshot_s3_url: str | None = None
    snapshot_s3_endpoint: str | None = None
    snapshot_s3_region: str | None = None
    # The app plane a silo tenant's dedicated Deployment runs, and the public key it verifies
    # access tokens with (the control plane's; it cannot sign).
    app_image: str = "tenantry/app-plane:dev"
    # Where Prometheus scrapes the operator's metrics (port 0: not served).
    metrics_port: int = 8080
    metrics_address: str = "0.0.0.0"  # noqa: S104 - scraped from inside the cluster
    # Seconds between two reconciles of a Tenant that nothing changed (level-triggered: drift
    # is restored within this), less a random part of up to `resync_jitter` of it.
    resync_interval: float = Field(default=20.0, gt=0)
    resync_jitter: float = Field(default=0.25, ge=0, lt=1)
    # Seconds to wait after each live-migration step: for demos and kill-at-each-step tests.
    migration_step_pause: float = 0.0
    # Live moves that run at once, each in a mover thread of its own (`movers`); more wait.
    max_concurrent_moves: int = Field(default=2, ge=1)
    # Seconds to wait after each offboarding step (the snapshot, the data's deletion): for
    # kill-at-each-step tests.
    offboard_step_pause: float = 0.0
    # The command that upgrades one placement's schema (`tenantry_core.schema`), as a JSON list.
    migrate_command: list[str] = list(schema.DEFAULT_COMMAND)
    # Who creates silo databases when the Tier does not say (model.Provisioner): servers,
    # terraform or pulumi; and where the Terraform modules, working directories and states are.
    database_provisioner: Literal["servers", "terraform", "pulumi"] = "servers"
    terraform_modules_dir: Path = Path(__file__).resolve().parents[2] / "terraform/silo-database"
    terraform_work_dir: Path = Path(tempfile.gettempdir()) / "tenantry-terraform"
    # The Postgres holding one Terraform state (pg backend) or Pulumi stack per tenant; default:
    # the pool database (schema tenantry_terraform).
    terraform_state_url: SecretStr | None = None
    app_jwt_public_key: str = Field(
        validation_alias=AliasChoices("TENANTRY_APP_JWT_PUBLIC_KEY", "JWT_PUBLIC_KEY")
    )

    @field_validator("snapshot_s3_url")
    @classmethod
    def _s3_url(cls, url: str | None) -> str | None:
        if url:
            parse_s3_url(url)  # a malformed URL stops the operator at start-up, saying why
        return url or None

    @field_validator("snapshot_s3_endpoint")
    @classmethod
    def _s3_endpoint(cls, url: str | None) -> str | None:
        if url and (urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname):
            raise ValueError(f"{url!r} is no http(s) URL of an S3-compatible server")
        return url or None

    @property
    def snapshot_s3(self) -> S3Location | None:
        """Where snapshots go when a bucket is configured."""
        return parse_s3_url(self.snapshot_s3_url) if self.snapshot_s3_url else None

    def admin_url(self, database: str | None = None) -> str:
        url = self.postgres_admin_url.get_secret_value()
        return url if database is None else urls.with_database(url, database)

    def state_url(self) -> str:
        """Where per-tenant Terraform states live (lib/pq syntax: it needs sslmode=disable for
        a loopback server without TLS, which the admin URL need not say)."""
        if self.terraform_state_url is not None:
            return self.terraform_state_url.get_secret_value()
        url = self.admin_url(self.pool_database)
        host = urlsplit(url).hostname or ""
        if "sslmode=" not in url and host in {"127.0.0.1", "localhost", "::1"}:
            url += ("&" if "?" in url else "?") + "sslmode=disable"
        return url

    @property
    def silo_urls(self) -> list[tuple[str | None, str]]:
        """The silo servers as (name, superuser URL), a name None for a server declared by URL
        alone (`provisioner.Server` names it host:port): the declared ones, else the pool's."""
        if isinstance(self.silo_servers, dict):
            named: list[tuple[str | None, str]] = list(self.silo_servers.items())
        else:
            named = [(None, url) for url in self.silo_servers]
        return named or [(None, self.admin_url())]

    def shard_url(self, server: str) -> str:
        """A superuser URL of the pool shard named `server` (`main`: the home pool database);
        KeyError for a shard not declared."""
        if server == HOME_SHARD:
            return self.admin_url(self.pool_database)
        return self.pool_shards[server]

    def shard_database(self, server: str) -> str:
        """The database name of a pool shard."""
        return urlsplit(self.shard_url(server)).path.lstrip("/") or "postgres"

    def shard_address(self, server: str) -> tuple[str, int]:
        """Where a pool shard answers, as written into tenants' Secrets and routing rows."""
        if server == HOME_SHARD:
            return self.public_host, self.public_port
        parts = urlsplit(self.shard_url(server))
        return parts.hostname or "127.0.0.1", parts.port or 5432

    @property
    def shard_names(self) -> tuple[str, ...]:
        """Every pool shard, the home one first."""
        return (HOME_SHARD, *(n for n in self.pool_shards if n != HOME_SHARD))

    @property
    def public_host(self) -> str:
        return self.postgres_public_host or urlsplit(self.admin_url()).hostname or "127.0.0.1"

    @property
    def public_port(self) -> int:
        return self.postgres_public_port or urlsplit(self.admin_url()).port or 5432
