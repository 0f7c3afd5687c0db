"""Schemathesis fuzzes the running control plane from its published OpenAPI document.

Authenticated as a tenant's owner, with `tenant_id` fixed to that tenant so generated requests
reach the handlers rather than stopping at 404. Every check runs except positive data
acceptance: schema-valid values the API refuses by design (an unknown tier, plan or role, a
forged Stripe signature) would count as failures; and the stateful check that a created resource
can be used at once: the fuzzer reuses an Idempotency-Key with the same body, and the replay
answers what the first create answered (by design, as Stripe's does), naming a resource a later
step may have deleted. At least 1,000 cases, no failure: no 5xx, no response outside the
document (status, media type, schema, headers), no ignored auth.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from kubernetes import client

from tests.integration import support

SEED = os.environ.get("TENANTRY_FUZZ_SEED", "20261123")
EXAMPLES_PER_OPERATION = "18"  # over 1,000 cases in all (asserted below)


def test_fuzzing_finds_no_server_error_schema_violation_or_ignored_auth(
    api: httpx.Client,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    tmp_path: Path,
) -> None:
    tier = support.unique("fuzz")
    support.make_tier(custom, tier, rateLimitPerMinute=1_000_000, features=["projects"])
    body = support.signup(api, support.unique("Fuzzed"))
    support.set_tier(api, env, body["tenant"]["id"], tier)
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\ntenant_id = "{body["tenant"]["id"]}"\n')
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "--config-file",
            str(config),
            "run",
            f"{env['API_URL']}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {body['token']['access_token']}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance,ensure_resource_availability",
            "--max-examples",
            EXAMPLES_PER_OPERATION,
            "--seed",
            SEED,
            "--generation-database",
            "none",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        check=False,
    )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    counted = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counted, report
    generated, passed = int(counted[1]), int(counted[2])
    assert generated >= 1000, report
    assert passed == generated, report
