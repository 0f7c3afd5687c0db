"""`tenantry-dev`: the command behind `make dev`.

`up` starts the whole local platform (Postgres, Kubernetes or the cluster in KUBECONFIG, the
simulated node, CRDs and Tiers, the operator, the control plane and the app plane), writes
`.tenantry/dev.env`, and stops every process it started on Ctrl-C. `env` prints that file,
`mail` what the local SMTP sink kept, `traces` the spans the local OTLP receiver kept.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

import typer

from localplatform import devenv, kube, mailsink, procs, stack, tracesink

app = typer.Typer(help=__doc__, no_args_is_help=True)
STATE_DIR = kube.REPO_ROOT / ".tenantry"
DEV_PORTS = {
    "postgres": 55432,
    "kube-apiserver": 6443,
    "etcd": 2379,
    "control-plane": 8000,
    "app-plane": 8001,
    "operator-metrics": 8080,
}


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@app.command()
def up(state_dir: Path = STATE_DIR) -> None:
    """Start everything and wait; Ctrl-C stops it all."""
    started = time.monotonic()
    platform = stack.Platform(state_dir, preferred_ports=DEV_PORTS)
    # Explicitly: a shell may start us with SIGINT ignored, and SIGTERM/SIGHUP must clean up too.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        typer.echo("starting Postgres and Kubernetes ...")
        platform.start_infrastructure()
        typer.echo("starting the operator, control plane and app plane ...")
        platform.start_operator()
        platform.start_control_plane()
        platform.start_app_plane()
        dev_env = state_dir / "dev.env"
        dev_env.write_text(
            devenv.dev_env(
                platform.env(),
                kubectl_dir=platform.kubectl_dir,
                venv_bin=Path(sys.executable).parent,
            )
        )
        typer.echo(f"\nTenantry is up in {time.monotonic() - started:.1f}s. {dev_env}:\n")
        typer.echo(dev_env.read_text())
        typer.echo(f"logs: {state_dir / 'logs'}    stop: Ctrl-C\n")
        while True:
            for name, process in platform.processes.items():
                if not process.alive():
                    raise procs.StartupError(
                        f"{name} exited; log {process.log}:\n{procs.log_tail(process.log)}"
                    )
            time.sleep(1)
    except KeyboardInterrupt:
        typer.echo("\nstopping ...")
    except procs.StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        platform.stop()
        (state_dir / "dev.env").unlink(missing_ok=True)
        typer.echo("stopped.")


@app.command()
def env(state_dir: Path = STATE_DIR) -> None:
    """Print .tenantry/dev.env of a running `make dev`."""
    dev_env = state_dir / "dev.env"
    if not dev_env.exists():
        typer.echo("not running: start it with `make dev`", err=True)
        raise typer.Exit(1)
    typer.echo(dev_env.read_text(), nl=False)


@app.command()
def mail(
    to: str,
    maildir: Path = typer.Option(STATE_DIR / "mail", envvar="TENANTRY_MAILDIR"),
    every: bool = typer.Option(False, "--all", help="every message to `to`, oldest first"),
) -> None:
    """Print the newest message the local mail sink kept for `to` (decoded), or all of them."""
    found = mailsink.messages(maildir, to=to) if maildir.exists() else []
    if not found:
        typer.echo(f"no mail for {to} in {maildir}", err=True)
        raise typer.Exit(1)
    for message in found if every else found[-1:]:
        typer.echo(f"Subject: {message['Subject']}\n\n{mailsink.text(message)}")


@app.command()
def traces(
    trace_id: str | None = typer.Argument(None, help="print this trace as a tree of spans"),
    path: Path = typer.Option(STATE_DIR / devenv.TRACES_FILE, envvar="TENANTRY_TRACES"),
    last: int = typer.Option(20, help="without TRACE_ID: how many of the newest traces"),
) -> None:
    """List the newest traces the local OTLP receiver kept, or print one as a tree."""
    spans = tracesink.read(path, trace_id)
    if not spans:
        typer.echo(f"no spans{f' of trace {trace_id}' if trace_id else ''} in {path}", err=True)
        raise typer.Exit(1)
    if trace_id:
        typer.echo("\n".join(tracesink.tree(spans)))
        return
    for found in tracesink.summaries(spans)[-last:]:
        started = dt.datetime.fromtimestamp(found["start_ns"] / 1e9, dt.UTC)
        typer.echo(
            f"{found['trace_id']}  {started:%H:%M:%S}  {found['spans']:>3} spans  "
            f"{found['root']}  ({', '.join(found['services'])})"
        )


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
