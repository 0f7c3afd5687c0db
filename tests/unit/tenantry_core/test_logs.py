"""The JSON logs every Tenantry process writes: one JSON object a line, and the web services'
access line with what the request's state says of its caller."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tenantry_core import logs


def hello(request: Request) -> PlainTextResponse:
    request.state.tenant_key = "acme"
    return PlainTextResponse("hi", status_code=201)


def test_each_request_is_one_json_line_naming_its_tenant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure()
    app = logs.AccessLog(
        Starlette(routes=[Route("/hello", hello)]),
        logger="test.access",
        fields=lambda state: {"tenant_key": state.get("tenant_key")},
    )
    with TestClient(app) as client:
        assert client.get("/hello").status_code == 201
    logging.getLogger("other").warning("plain %s", "record")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    access = next(line for line in lines if line.get("logger") == "test.access")
    assert access["event"] == "request"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/hello", 201)
    assert access["tenant_key"] == "acme"
    assert access["duration_ms"] >= 0
    other = next(line for line in lines if line.get("logger") == "other")
    assert (other["event"], other["level"]) == ("plain record", "warning")
