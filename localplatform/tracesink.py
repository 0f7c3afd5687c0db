"""A local OTLP/HTTP trace receiver for `make dev` and the tests: Tenantry's processes export
their spans to it (OTEL_EXPORTER_OTLP_ENDPOINT, set by `localplatform.devenv`) and it appends
each span as one JSON line to a file (the state directory's `traces.jsonl`); `tenantry-dev
traces` reads them back (`read`, `summaries`, `tree`).

It takes `POST /v1/traces` in OTLP's protobuf encoding (gzip too) and answers `GET /` for its
health. `localplatform.stack` runs it under the Supervisor as `python -m localplatform.tracesink
--port PORT --out FILE`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from localplatform import procs

PATH = "/v1/traces"
Span = dict[str, Any]


def _value(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind) if kind else None


def _attributes(pairs: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def spans_of(request: trace_service_pb2.ExportTraceServiceRequest) -> list[Span]:
    """Each span of an export request as a plain dict: hex ids, its service's name, its kind
    and status in lower case, times in Unix nanoseconds, attributes."""
    found = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex() or None,
                        "name": span.name,
                        "service": resource.get("service.name"),
                        "kind": trace_pb2.Span.SpanKind.Name(span.kind)
                        .removeprefix("SPAN_KIND_")
                        .lower(),
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "status": trace_pb2.Status.StatusCode.Name(span.status.code)
                        .removeprefix("STATUS_CODE_")
                        .lower(),
                        "attributes": _attributes(span.attributes),
                    }
                )
    return found


def read(path: Path, trace_id: str | None = None) -> list[Span]:
    """The spans in `path` (of one trace, when given), in the order they arrived."""
    if not path.exists():
        return []
    spans = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [s for s in spans if trace_id is None or s["trace_id"] == trace_id.lower()]


def summaries(spans: list[Span]) -> list[dict[str, Any]]:
    """One line per trace, oldest first: its id, start, root span, services and span count."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    found = []
    for trace_id, members in by_trace.items():
        first = min(members, key=lambda s: s["start_ns"])
        roots = [s for s in members if not s["parent_span_id"]]
        found.append(
            {
                "trace_id": trace_id,
                "start_ns": first["start_ns"],
                "root": (roots[0] if roots else first)["name"],
                "services": sorted({str(s["service"]) for s in members}),
                "spans": len(members),
            }
        )
    return sorted(found, key=lambda t: t["start_ns"])


def tree(spans: list[Span]) -> list[str]:
    """The spans of one trace as an indented tree, children in the order they started; a span
    whose parent was not received is shown at the top."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in sorted(spans, key=lambda s: s["start_ns"]):
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    start = min((s["start_ns"] for s in spans), default=0)

    def lines(parent: str | None, depth: int) -> Iterator[str]:
        for span in children.get(parent, []):
            ms = (span["end_ns"] - span["start_ns"]) / 1e6
            offset = (span["start_ns"] - start) / 1e6
            shown = " ".join(
                f"{k}={v}" for k, v in span["attributes"].items() if k.startswith("tenantry.")
            )
            failed = " ERROR" if span["status"] == "error" else ""
            yield (
                f"{'  ' * depth}{span['name']} [{span['service']}] +{offset:.1f}ms "
                f"{ms:.1f}ms{failed}{' ' + shown if shown else ''}"
            )
            yield from lines(span["span_id"], depth + 1)

    return list(lines(None, 0))


class _Handler(BaseHTTPRequestHandler):
    out: Path
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per export would drown the log."""

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(200, b"ok\n", "text/plain")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != PATH:
            self._answer(404, b"only " + PATH.encode() + b"\n", "text/plain")
            return
        try:
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(raw)
        except (DecodeError, OSError) as exc:
            self._answer(400, f"not an OTLP protobuf export: {exc}\n".encode(), "text/plain")
            return
        lines = "".join(json.dumps(span) + "\n" for span in spans_of(request))
        with self.lock, self.out.open("a") as file:
            file.write(lines)
        response = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self._answer(200, response, "application/x-protobuf")


def serve(port: int, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    handler = type("Handler", (_Handler,), {"out": out})
    ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()


def start(supervisor: procs.Supervisor, *, port: int, out: Path) -> procs.Process:
    """Run the receiver on `port`, appending to `out`, and wait until it answers."""
    argv = ["-m", "localplatform.tracesink", "--port", str(port), "--out", str(out)]
    process = supervisor.start("tracesink", [sys.executable, *argv])
    supervisor.wait_ready(process, lambda: procs.http_ok(f"http://127.0.0.1:{port}/"), timeout=30)
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description="A local OTLP/HTTP trace receiver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    serve(args.port, args.out)


if __name__ == "__main__":
    main()
