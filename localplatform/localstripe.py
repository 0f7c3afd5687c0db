"""localstripe, a stateful fake of Stripe's API, for `make dev` and the tests.

Development only: the `dev` extra installs it. Without it the platform runs without Stripe
(the environment then names no Stripe API; `localplatform.devenv`). `localplatform.stack`
starts it under the Supervisor.
"""

from __future__ import annotations

import sys
from pathlib import Path

from localplatform import devenv, procs


def binary() -> Path | None:
    """The `localstripe` command beside our Python, if installed."""
    found = Path(sys.executable).parent / "localstripe"
    return found if found.exists() else None


def start(supervisor: procs.Supervisor, command: Path, *, port: int) -> procs.Process:
    # --from-scratch: localstripe keeps its state in one fixed file (/tmp/localstripe.pickle)
    # that every instance rewrites; loading it while another instance writes it crashes.
    process = supervisor.start("localstripe", [str(command), "--port", str(port), "--from-scratch"])
    customers = f"http://127.0.0.1:{port}/v1/customers"
    supervisor.wait_ready(
        process, lambda: procs.http_ok(customers, token=devenv.LOCALSTRIPE_KEY), timeout=30
    )
    return process
