"""The Tenant resource a registry row stands for carries the trace it was written in."""

from __future__ import annotations

import uuid

import pytest

from control_plane import models
from control_plane.integrations import kube
from tenantry_core import resources, tracing

ROW = models.Tenant(
    id=uuid.UUID("00000000-0000-0000-0000-00000000000a"),
    tenant_key="acme",
    company="Acme",
    tier="free",
    suspended=False,
    owner_email="ceo@acme.example.com",
)


@pytest.mark.usefixtures("spans")
def test_the_tenant_carries_the_current_trace() -> None:
    with tracing.span("outbox.deliver"):
        body = kube.tenant_resource(ROW)
        current = tracing.traceparent()
    assert current is not None
    assert body["metadata"]["annotations"] == {tracing.ANNOTATION: current}
    assert body["metadata"]["labels"][resources.LABEL_TENANT_ID] == str(ROW.id)
    assert body["spec"] == {
        "tier": "free",
        "displayName": "Acme",
        "suspended": False,
        "owner": {"email": "ceo@acme.example.com"},
    }


def test_outside_a_trace_the_tenant_has_no_annotation() -> None:
    assert "annotations" not in kube.tenant_resource(ROW)["metadata"]
