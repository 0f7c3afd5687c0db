"""The local platform's environment and dev.env, from literal inputs."""

from pathlib import Path

import pytest

from localplatform import devenv
from tenantry_core import tokens

SIGNING_KEY = tokens.generate_signing_key()
SECRETS = devenv.Secrets(
    app_db_password="app-pw",
    jwt_signing_key=SIGNING_KEY,
    admin_password="admin-pw",
    stripe_webhook="hook",
    export_link="link",
)


def environment(
    localstripe_port: int | None = None,
    smtp_port: int | None = None,
    otlp_port: int | None = None,
) -> dict[str, str]:
    return devenv.environment(
        kubeconfig=Path("/state/kube/kubeconfig"),
        postgres_url="postgresql://postgres@127.0.0.1:5432/postgres",
        secrets=SECRETS,
        state_dir=Path("/state"),
        control_plane_port=8000,
        app_plane_port=8001,
        localstripe_port=localstripe_port,
        smtp_port=smtp_port,
        otlp_port=otlp_port,
    )


def test_the_environment_names_every_database_and_service() -> None:
    env = environment()
    assert env["DATABASE_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/tenantry"
    assert env["TENANTRY_POSTGRES_ADMIN_URL"] == "postgresql://postgres@127.0.0.1:5432/postgres"
    assert env["TENANTRY_POOL_DATABASE"] == "tenantry_pool"
    pool_as_app = "postgresql://tenantry_app:app-pw@127.0.0.1:5432/tenantry_pool"
    assert env["TENANTRY_APP_DATABASE_URL"] == env["APP_DATABASE_URL"] == pool_as_app
    assert env["TENANTRY_APP_DB_PASSWORD"] == "app-pw"
    assert env["JWT_PRIVATE_KEY"] == SIGNING_KEY
    assert env["JWT_PUBLIC_KEY"] == tokens.public_key_pem(SIGNING_KEY)
    assert env["FIRST_PLATFORM_ADMIN_PASSWORD"] == "admin-pw"
    assert env["STRIPE_WEBHOOK_SECRET"] == "whsec_hook"
    assert env["TENANTRY_SNAPSHOT_DIR"] == "/state/snapshots"
    assert (env["API_URL"], env["APP_URL"]) == ("http://127.0.0.1:8000", "http://127.0.0.1:8001")
    assert env["KUBECONFIG"] == "/state/kube/kubeconfig"


def test_stripe_calls_go_to_localstripe_only_when_it_runs() -> None:
    assert "STRIPE_API_KEY" not in environment()
    assert "STRIPE_API_BASE" not in environment()
    with_stripe = environment(localstripe_port=8420)
    assert with_stripe["STRIPE_API_KEY"] == devenv.LOCALSTRIPE_KEY
    assert with_stripe["STRIPE_API_BASE"] == "http://127.0.0.1:8420"


def test_spans_go_to_the_local_receiver_only_when_it_runs() -> None:
    assert not any(k.startswith("OTEL_") for k in environment())
    traced = environment(otlp_port=4318)
    assert traced["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
    assert traced["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert traced["OTEL_BSP_SCHEDULE_DELAY"] == "200"  # spans arrive within a second
    assert traced["TENANTRY_TRACES"] == "/state/traces.jsonl"
    assert "TENANTRY_TRACES" in devenv.dev_env(traced, kubectl_dir=None)


def test_mail_goes_to_the_local_sink_only_when_it_runs() -> None:
    assert "SMTP_HOST" not in environment()
    with_mail = environment(smtp_port=8025)
    assert (with_mail["SMTP_HOST"], with_mail["SMTP_PORT"]) == ("127.0.0.1", "8025")
    assert with_mail["SMTP_STARTTLS"] == "false"
    assert with_mail["TENANTRY_MAILDIR"] == "/state/mail"
    assert with_mail["EMAIL_VERIFY_URL"] == "http://127.0.0.1:8000/verify-email"


def test_secrets_are_made_once_then_reused(tmp_path: Path) -> None:
    first = devenv.Secrets.load(tmp_path / "secrets")
    assert devenv.Secrets.load(tmp_path / "secrets") == first
    assert (
        len({first.app_db_password, first.admin_password, first.stripe_webhook, first.export_link})
        == 4
    )
    assert tokens.public_key_pem(first.jwt_signing_key).startswith("-----BEGIN PUBLIC KEY-----")
    for kept in (tmp_path / "secrets").iterdir():
        assert kept.stat().st_mode & 0o777 == 0o600, kept


@pytest.mark.parametrize("kubectl_dir", [None, Path("/assets")])
def test_dev_env_shows_how_to_reach_the_platform(kubectl_dir: Path | None) -> None:
    text = devenv.dev_env(environment(), kubectl_dir=kubectl_dir)
    lines = text.splitlines()
    assert lines[:5] == [
        "export KUBECONFIG=/state/kube/kubeconfig",
        "export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/tenantry",
        "export TENANTRY_POSTGRES_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres",
        "export API_URL=http://127.0.0.1:8000",
        "export APP_URL=http://127.0.0.1:8001",
    ]
    assert lines[5:] == ["export FIRST_PLATFORM_ADMIN_EMAIL=admin@tenantry.example.com"] + (
        [] if kubectl_dir is None else ['export PATH="/assets:$PATH"']
    )
    assert "PRIVATE" not in text
    assert text.endswith("\n")


def test_dev_env_names_the_metrics_and_mail_of_what_runs_and_puts_the_commands_on_path() -> None:
    env = devenv.environment(
        kubeconfig=Path("/state/kube/kubeconfig"),
        postgres_url="postgresql://postgres@127.0.0.1:5432/postgres",
        secrets=SECRETS,
        state_dir=Path("/state"),
        control_plane_port=8000,
        app_plane_port=8001,
        localstripe_port=None,
        smtp_port=2525,
        operator_metrics_port=9090,
    )
    text = devenv.dev_env(env, kubectl_dir=Path("/assets"), venv_bin=Path("/repo/.venv/bin"))
    assert "export OPERATOR_METRICS_URL=http://127.0.0.1:9090/metrics\n" in text
    assert "export TENANTRY_MAILDIR=/state/mail\n" in text
    assert text.endswith('export PATH="/assets:/repo/.venv/bin:$PATH"\n')
