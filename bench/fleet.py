"""Fleet scale: a burst of pool tenants created at once, then the operator idle among them.

`count` Tenants (1,000 in full mode) go to the API server in one `kubectl create`, as an
operator of the platform would apply them. Reported: the time until every one is Ready (past
15 minutes: how many were), the operator's peak resident memory (VmHWM of the operator process
the platform started, from /proc), and the errors of the burst: objects the API server refused,
and error lines the API server, the control plane (which mirrors the Tenants into its registry)
and the operator logged meanwhile. Then the operator's CPU over an idle window, from
/proc/<pid>/stat, and the periodic reconciles it ran meanwhile (its /metrics) with its CPU per
reconcile: at N tenants resynced every R seconds that costs N / R of them a second. Run by
`bench.suite`; targets: all Ready within 60 s, peak RSS at most 250 MB, no errors, idle CPU at
most 5% of a core.
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
import uuid
from pathlib import Path

import yaml
from tenantry_operator import settings

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
RECONCILED = "tenantry_reconcile_seconds_count"  # the operator's finished reconciles
RESYNC_S = settings.OperatorSettings.model_fields["resync_interval"].default


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
        cpu, reconciles, each_ms = _steady(platform, operator, idle_s)
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
        report.figure(
            f"Periodic reconciles in that window ({reconciles:g}, each Tenant every {RESYNC_S:g} s"
            " less up to a quarter): operator CPU each (all of it over their number)",
            each_ms,
            "ms",
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


def _reconciles(platform: stack.Platform) -> float:
    """The reconciles the operator has finished, from its /metrics."""
    url = f"http://127.0.0.1:{platform.port('operator-metrics')}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    counts = [line.split()[-1] for line in text.splitlines() if line.startswith(RECONCILED)]
    return sum(float(count) for count in counts)


def _steady(platform: stack.Platform, pid: int, seconds: float) -> tuple[float, float, float]:
    """Over the next `seconds`: the operator's CPU in percent of one core, the reconciles it
    ran, and its CPU per reconcile in ms (0 when it ran none)."""
    cpu, reconciles, started = _cpu_seconds(pid), _reconciles(platform), time.monotonic()
    time.sleep(seconds)
    cpu, reconciles = _cpu_seconds(pid) - cpu, _reconciles(platform) - reconciles
    percent = 100 * cpu / (time.monotonic() - started)
    return percent, reconciles, 1000 * cpu / reconciles if reconciles else 0.0
