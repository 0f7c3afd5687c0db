"""The README runs as written: every shell block marked `<!-- walkthrough -->`, in order, in one
bash session, as a newcomer pastes them into a shell at the checkout's root while `make dev`
runs; where the README shows a command's output (comment lines `#   …` after it), the output
has those rows.

The checkout is a directory with `.tenantry` (this platform's state directory, with the
`dev.env` that `make dev` writes) and `.venv` (the project's), so every path in the README
resolves as it does after `make dev`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from kubernetes import client

from localplatform import devenv, stack
from tests.conftest import eventually
from tests.integration import support

REPO = Path(__file__).resolve().parents[2]
MARK = "<!-- walkthrough -->"
EXPECTED = re.compile(r"^#   (\S.*)$")  # a row of the output the command above it prints
AGE = re.compile(r"^\d+[smhd]$")  # a column whose value depends on when it runs


def walkthrough(readme: str) -> list[str]:
    """The marked shell blocks, in order."""
    lines, blocks = readme.splitlines(), []
    for number, line in enumerate(lines):
        if line.strip() == MARK:
            assert lines[number + 1] == "```sh", f"README line {number + 2}: not a sh block"
            end = lines.index("```", number + 2)
            blocks.append("\n".join(lines[number + 2 : end]))
    return blocks


def expected_rows(block: str) -> list[re.Pattern[str]]:
    """The output rows the block shows, as patterns (ages match any age)."""
    rows = []
    for line in block.splitlines():
        found = EXPECTED.match(line)
        if found:
            words = [r"\S+" if AGE.match(w) else re.escape(w) for w in found.group(1).split()]
            rows.append(re.compile(r"\s+".join(words)))
    return rows


def test_the_blocks_are_found() -> None:
    blocks = walkthrough((REPO / "README.md").read_text())
    assert len(blocks) >= 5
    assert blocks[0].startswith("source .tenantry/dev.env")
    assert [p.pattern for p in expected_rows("kubectl get x\n#   a   1s\n# not a row")] == [
        r"a\s+\S+"
    ]


def test_the_walkthrough_runs_as_written(
    platform: stack.Platform,
    env: dict[str, str],
    custom: client.CustomObjectsApi,
    tmp_path: Path,
) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".tenantry").symlink_to(platform.state_dir)
    (checkout / ".venv").symlink_to(REPO / ".venv")
    (platform.state_dir / "dev.env").write_text(
        devenv.dev_env(
            env, kubectl_dir=platform.kubectl_dir, venv_bin=Path(sys.executable).parent
        )
    )
    blocks = walkthrough((REPO / "README.md").read_text())
    # A marker line before each block (after a newline: curl's output may not end in one).
    script = "set -euo pipefail\n" + "".join(
        f"printf '\\n::block {number}::\\n'\n{block}\n" for number, block in enumerate(blocks)
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=checkout,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    outputs = re.split(r"^::block \d+::$", done.stdout, flags=re.M)[1:]
    assert len(outputs) == len(blocks)
    for block, output in zip(blocks, outputs, strict=True):
        for row in expected_rows(block):
            assert any(row.fullmatch(line.strip()) for line in output.splitlines()), (
                row.pattern,
                output,
            )
    # What the blocks say happens: the billing webhook moves acme-corp to a silo, live.
    eventually(
        lambda: (support.get_tenant(custom, "acme-corp") or {})
        .get("status", {})
        .get("placement")
        == "silo",
        timeout=180,
        what="acme-corp moved to a silo",
    )
