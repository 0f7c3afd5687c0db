"""The environment of the local platform: what Tenantry's processes get, and `dev.env`.

`Secrets.load` keeps the platform's random secrets in the state directory, so a restart reuses
them. `environment` is the whole environment, a pure function of where things run;
`localplatform.stack.Platform.env()` computes it, `localplatform.services` starts Tenantry's
processes with it, the tests read it, and `dev_env` is the part `make dev` writes to
`.tenantry/dev.env` (`localplatform.cli`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tenantry_core import routing, tokens, urls

CONTROL_DB = "tenantry"
POOL_DB = "tenantry_pool"
# The extra pool shards beside the home one (`main`, POOL_DB): other databases on the one
# Postgres server, which the operator creates (TENANTRY_POOL_SHARDS).
POOL_SHARDS = {"shard-b": "tenantry_shard_b", "shard-c": "tenantry_shard_c"}
# The silo servers: the one Postgres server, and a second one (`silo-b`) kept cordoned: new
# silo tenants stay on `silo-a`, and a move may name `silo-b` (TENANTRY_SILO_SERVERS).
HOME_SILO_SERVER, OTHER_SILO_SERVER = "silo-a", "silo-b"
# Labels of the servers, for Tiers that place tenants by a label (placement.matchLabel).
REGION = "topology.tenantry.dev/region"
SERVER_LABELS = {
    "main": {REGION: "us"},
    "shard-b": {REGION: "us"},
    "shard-c": {REGION: "eu"},
    HOME_SILO_SERVER: {REGION: "us"},
    OTHER_SILO_SERVER: {REGION: "eu"},
}
PLATFORM_ADMIN_EMAIL = "admin@tenantry.example.com"
TRACES_FILE = "traces.jsonl"  # in the state directory: the spans the local receiver got
LOCALSTRIPE_KEY = "sk_test_local"
# What dev.env shows: enough to reach the APIs, the metrics, the mail, the databases and the
# cluster (those of processes that run).
SHOWN = (
    "KUBECONFIG",
    "DATABASE_URL",
    "TENANTRY_POSTGRES_ADMIN_URL",
    "API_URL",
    "APP_URL",
    "OPERATOR_METRICS_URL",
    "TENANTRY_MAILDIR",
    "TENANTRY_TRACES",
    "FIRST_PLATFORM_ADMIN_EMAIL",
)
# How soon a process exports its finished spans (the batch processor's schedule delay, in ms).
TRACE_EXPORT_DELAY_MS = 200


def _kept(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    """A secret kept in `path`: made and written (owner-only) the first time, then read."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Secrets:
    app_db_password: str
    jwt_signing_key: str  # PEM; only the control plane gets it
    admin_password: str
    stripe_webhook: str
    export_link: str  # signs the app plane's export download links

    @classmethod
    def load(cls, directory: Path) -> Secrets:
        """The secrets in `directory` (the state directory's `secrets/`), made when missing."""
        return cls(
            app_db_password=_kept(directory / "app-db-password"),
            jwt_signing_key=_kept(directory / "jwt-signing-key.pem", tokens.generate_signing_key),
            admin_password=_kept(directory / "admin-password"),
            stripe_webhook=_kept(directory / "stripe-webhook"),
            export_link=_kept(directory / "export-link-secret"),
        )


def _as_user(url: str, user: str, password: str) -> str:
    """`url` with `user` and `password` in place of its credentials."""
    parts = urlsplit(url)
    server = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:{password}@{server}").geturl()


def environment(
    *,
    kubeconfig: Path,
    postgres_url: str,
    secrets: Secrets,
    state_dir: Path,
    control_plane_port: int,
    app_plane_port: int,
    localstripe_port: int | None,
    smtp_port: int | None = None,
    operator_metrics_port: int | None = None,
    otlp_port: int | None = None,
    silo_url: str | None = None,
) -> dict[str, str]:
    """Everything Tenantry's processes need: `postgres_url` is the superuser's URL of the
    server's `postgres` database, `silo_url` the second silo server's; Stripe calls go to
    localstripe, mail to the local SMTP sink (`localplatform.mailsink`) and spans to the local
    OTLP receiver (`localplatform.tracesink`, which keeps them in TENANTRY_TRACES) when they
    run."""
    pool_as_app = _as_user(
        urls.with_database(postgres_url, POOL_DB), routing.APP_ROLE, secrets.app_db_password
    )
    stripe = (
        {
            "STRIPE_API_KEY": LOCALSTRIPE_KEY,
            "STRIPE_API_BASE": f"http://127.0.0.1:{localstripe_port}",
        }
        if localstripe_port is not None
        else {}
    )
    mail = (
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_STARTTLS": "false",
            "TENANTRY_MAILDIR": str(state_dir / "mail"),
        }
        if smtp_port is not None
        else {}
    )
    traces = (
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": str(TRACE_EXPORT_DELAY_MS),
            "TENANTRY_TRACES": str(state_dir / TRACES_FILE),
        }
        if otlp_port is not None
        else {}
    )
    api_url = f"http://127.0.0.1:{control_plane_port}"
    return {
        "KUBECONFIG": str(kubeconfig),
        "DATABASE_URL": urls.sqlalchemy_url(urls.with_database(postgres_url, CONTROL_DB)),
        "TENANTRY_POSTGRES_ADMIN_URL": postgres_url,
        "TENANTRY_POOL_DATABASE": POOL_DB,
        "TENANTRY_POOL_SHARDS": json.dumps(
            {name: urls.with_database(postgres_url, db) for name, db in POOL_SHARDS.items()}
        ),
        **(
            {
                "TENANTRY_SILO_SERVERS": json.dumps(
                    {HOME_SILO_SERVER: postgres_url, OTHER_SILO_SERVER: silo_url}
                ),
                "TENANTRY_CORDONED_SERVERS": json.dumps([OTHER_SILO_SERVER]),
                "TENANTRY_SERVER_LABELS": json.dumps(SERVER_LABELS),
            }
            if silo_url
            else {}
        ),
        "TENANTRY_APP_DB_PASSWORD": secrets.app_db_password,
        "TENANTRY_APP_DATABASE_URL": pool_as_app,
        "APP_DATABASE_URL": pool_as_app,
        "JWT_PRIVATE_KEY": secrets.jwt_signing_key,
        "JWT_PUBLIC_KEY": tokens.public_key_pem(secrets.jwt_signing_key),
        "ENVIRONMENT": "local",
        "WEBHOOK_ALLOW_LOOPBACK": "true",  # tests and `make dev` receive webhooks on 127.0.0.1
        "FIRST_PLATFORM_ADMIN_EMAIL": PLATFORM_ADMIN_EMAIL,
        "FIRST_PLATFORM_ADMIN_PASSWORD": secrets.admin_password,
        **stripe,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.stripe_webhook,
        "TENANTRY_SNAPSHOT_DIR": str(state_dir / "snapshots"),
        "TENANTRY_TERRAFORM_WORK_DIR": str(state_dir / "terraform"),
        "TENANTRY_EXPORT_DIR": str(state_dir / "exports"),
        "TENANTRY_EXPORT_LINK_SECRET": secrets.export_link,
        **mail,
        **traces,
        "EMAIL_VERIFY_URL": f"{api_url}/verify-email",
        "API_URL": api_url,
        "APP_URL": f"http://127.0.0.1:{app_plane_port}",
        **(
            {"OPERATOR_METRICS_URL": f"http://127.0.0.1:{operator_metrics_port}/metrics"}
            if operator_metrics_port
            else {}
        ),
    }


def dev_env(
    env: Mapping[str, str], *, kubectl_dir: Path | None, venv_bin: Path | None = None
) -> str:
    """The text of `.tenantry/dev.env`: the SHOWN variables (of what runs), and our kubectl and
    the project's commands (`tenantry-migrate`, ...) first on PATH."""
    lines = [f"export {k}={env[k]}\n" for k in SHOWN if k in env]
    path = [str(p) for p in (kubectl_dir, venv_bin) if p]
    if path:
        lines.append(f'export PATH="{":".join(path)}:$PATH"\n')
    return "".join(lines)
