"""tenantry_core.serverspans: FastAPI's request span carries the request's tenant and is
answered in the `traceparent` response header; without a tracer provider nothing is added."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tenantry_core import serverspans

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _app(provider: TracerProvider | None) -> FastAPI:
    app = FastAPI(telemetry={**serverspans.TELEMETRY, "tracer_provider": provider})
    app.add_middleware(
        serverspans.ServerSpans, fields=lambda state: {"tenantry.tenant_key": state.get("tenant")}
    )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/things/{thing}")
    def thing(thing: str, request: Request) -> dict[str, str]:
        request.state.tenant = "acme"
        return {"thing": thing}

    return app


def test_the_request_span_names_its_tenant_and_answers_with_its_traceparent(
    provider: TracerProvider, spans: InMemorySpanExporter
) -> None:
    with TestClient(_app(provider)) as http:
        response = http.get("/things/1", headers={"traceparent": CALLER})
        assert http.get("/healthz").status_code == 200  # probes make no spans
    assert response.status_code == 200
    [served] = [s for s in spans.get_finished_spans() if s.kind is trace.SpanKind.SERVER]
    assert served.context is not None
    assert served.parent is not None
    assert served.name == "GET /things/{thing}"
    assert served.attributes is not None
    assert served.attributes["tenantry.tenant_key"] == "acme"
    assert served.parent.span_id == int(CALLER.split("-")[2], 16)
    own = f"00-{CALLER.split('-')[1]}-{trace.format_span_id(served.context.span_id)}-01"
    assert response.headers["traceparent"] == own


def test_without_a_tracer_provider_no_header_is_added() -> None:
    with TestClient(_app(None)) as http:
        response = http.get("/things/1")
    assert response.status_code == 200
    assert "traceparent" not in response.headers
