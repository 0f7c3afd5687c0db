"""Unit-test fixtures shared by the packages: `spans`, an in-memory record of the spans
`tenantry_core.tracing` starts (its tracer swapped for one of a private provider, so no test
installs the process-wide provider)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tenantry_core import tracing


@pytest.fixture
def provider() -> TracerProvider:
    return TracerProvider()


@pytest.fixture
def spans(
    monkeypatch: pytest.MonkeyPatch, provider: TracerProvider
) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "TRACER", provider.get_tracer("tests"))
    yield exporter
    provider.shutdown()
