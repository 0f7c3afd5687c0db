"""Fleet scale: a burst of pool tenants created at once, then the operator idle among them.

`count` Tenants (1,000 in full mode) go to the API server in one `kubectl create`, as an
operator of the platform would apply them. Reported: the time until every one is Ready (past
15 minutes: how many were), the operator's peak resident memory (VmHWM of the operator process
the platform started, from /proc), and the errors of the burst: objects the API server refused,
and error lines the API server, the control plane (which mirrors the Tenants into its registry)
and the operator logged meanwhile. Then the operator's CPU over an idle window, from
/proc/<pid>/stat. Run by `bench.suite`; targets: all Ready within 60 s, peak RSS at most 250 MB,
no errors, idle CPU at most 5% of a core.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import yaml

from bench import cluster, report
from localplatform import services, stack
from tenantry_core import resources

LABEL = "bench.tenantry.dev/burst"
# An error line: klog's severity letter (the API server), or a JSON log's level (the others).
ERROR_LINE = re.compile(r'^E\d{4} |"(?:level|levelname|severity)":\s*"(?:error|critical)"', re.I)
# The local API server's own complaint every 10 s that it cannot publish a loopback endpoint
# for the `kubernetes` Service: the platform's, not the burst's.
BENIGN = "unable to sync kubernetes service"
LIMIT_S = 900.0  # past it, the burst's figure says how many were Ready
LOGGED = ("kube-apiserver", services.CONTROL_PLANE, services.OPERATOR)


def run(platform: stack.Platform, *, quick: bool) -> list[report.Figure]:
    count, idle_s = (5, 3.0) if quick else (1000, 30.0)
    custom = cluster.custom_api(platform)
    operator = platform.processes[services.OPERATOR].popen.pid
    burst = uuid.uuid4().hex[:6]
    names = [f"bench-burst-{burst}-{n:04d}" for n in range(count)]
    documents = yaml.safe_dump_all([cluster.tenant_body(n, "free", {LABEL: burst}) for n in names])
    logs = {name: platform.state_dir / "logs" / f"{name}.log" for name in LOGGED}
    offsets = {name: _size(path) for name, path in logs.items()}
    started = time.monotonic()
    created = platform.kubectl("create", "-f", "-", stdin=documents, check=False)
    try:
        refused = created.stderr.count("Error from server")

        def ready() -> int:
            listed = custom.list_cluster_custom_object(
                cluster.GROUP,
                cluster.VERSION,
                resources.TENANT_PLURAL,
                label_selector=f"{LABEL}={burst}",
            )["items"]
            return sum(cluster.is_ready(t) for t in listed)

        while (done := ready()) < count - refused and time.monotonic() < started + LIMIT_S:
            time.sleep(0.5)
        all_ready_s = time.monotonic() - started
        logged = sum(_errors(path, offsets[name]) for name, path in logs.items())
        peak_mb = _peak_rss_mb(operator)
        cpu = _cpu_percent(operator, idle_s)
    finally:
        platform.kubectl("delete", "tenants", "-l", f"{LABEL}={burst}", "--wait=false", check=False)
    return [
        report.figure(
            f"Burst: {count} pool tenants created at once with kubectl, "
            + ("all Ready" if done == count else f"{done} Ready at the {LIMIT_S:g} s limit"),
            all_ready_s,
            "s",
            at_most=60,
        ),
        report.figure("Burst: operator peak RSS", peak_mb, "MB", at_most=250),
        report.figure(
            "Burst: objects refused, error lines of API server, control plane and operator",
            refused + logged,
            "",
            at_most=0,
        ),
        report.figure(
            f"Steady state with {done} tenants Ready: operator CPU over {idle_s:g} s"
            + (" idle" if done == count else ", the rest still converging"),
            cpu,
            "% of a core",
            at_most=5,
        ),
    ]


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _errors(path: Path, offset: int) -> int:
    """Error lines written to the log at `path` after byte `offset`, each printed."""
    if not path.exists():
        return 0
    with path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    found = [s for s in text.splitlines() if ERROR_LINE.search(s) and BENIGN not in s]
    for line in found:
        print(f"bench: {path.name}: {line[:300]}", flush=True)
    return len(found)


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _cpu_percent(pid: int, seconds: float) -> float:
    """The process's CPU over the next `seconds`, in percent of one core."""
    before, started = _cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (_cpu_seconds(pid) - before) / (time.monotonic() - started)
