"""localstripe, a stateful fake of Stripe's API, for `make dev` and the tests, with the fake
Checkout and customer portal of `localplatform.stripe_fake` in the same process.

Development only: the `dev` extra installs it. Without it the platform runs without Stripe
(the environment then names no Stripe API; `localplatform.devenv`). `localplatform.stack`
starts it under the Supervisor, with the control plane's webhook as where completed Checkout
sessions are announced.
"""

from __future__ import annotations

import importlib.util
import sys

from localplatform import devenv, procs


def installed() -> bool:
    return importlib.util.find_spec("localstripe") is not None


def start(
    supervisor: procs.Supervisor, *, port: int, webhook_url: str, webhook_secret: str
) -> procs.Process:
    process = supervisor.start(
        "localstripe",
        [
            sys.executable,
            "-m",
            "localplatform.stripe_fake",
            "--port",
            str(port),
            "--webhook-url",
            webhook_url,
        ],
        env={"STRIPE_WEBHOOK_SECRET": webhook_secret},
    )
    customers = f"http://127.0.0.1:{port}/v1/customers"
    supervisor.wait_ready(
        process, lambda: procs.http_ok(customers, token=devenv.LOCALSTRIPE_KEY), timeout=30
    )
    return process
