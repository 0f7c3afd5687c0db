"""problem+json: every error a service answers, through a tiny app with `problems.install`."""

from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from tenantry_core import problems

app = FastAPI()
problems.install(app)


class Item(BaseModel):
    name: str = Field(min_length=1)


@app.get("/items")
def list_items() -> list[str]:
    return []


@app.post("/items", status_code=201)
def create_item(item: Item) -> Item:
    return item


@app.get("/items/{item_id}")
def read_item(item_id: int) -> dict[str, int]:
    if item_id == 0:
        raise problems.Problem(
            404,
            "Not Found",
            "no such item",
            type_="https://tenantry.dev/problems/missing",
            headers={"Retry-After": "5"},
            item=item_id,
        )
    if item_id == 1:
        raise HTTPException(409, "item 1 is taken")
    return {"id": item_id}


@app.delete("/items/{item_id}", status_code=204)
def delete_item(item_id: int) -> None:
    return None


@app.get("/boom")
def boom() -> None:
    raise RuntimeError("a secret in a traceback")


@pytest.fixture
def http() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == problems.MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_a_raised_problem_is_answered_as_is(http: TestClient) -> None:
    response = http.get("/items/0")
    assert problem(response, 404) == {
        "type": "https://tenantry.dev/problems/missing",
        "title": "Not Found",
        "status": 404,
        "instance": "/items/0",
        "detail": "no such item",
        "item": 0,
    }
    assert response.headers["Retry-After"] == "5"


def test_invalid_input_is_a_422_naming_each_error(http: TestClient) -> None:
    body = problem(http.post("/items", json={"name": ""}), 422)
    assert body["title"] == "Unprocessable Content"
    assert [e["loc"] for e in body["errors"]] == [["body", "name"]]
    assert body["errors"][0]["type"] == "string_too_short"
    path = problem(http.get("/items/abc"), 422)
    assert [e["loc"] for e in path["errors"]] == [["path", "item_id"]]


def test_an_unknown_path_is_a_404_without_detail(http: TestClient) -> None:
    assert problem(http.get("/nowhere"), 404) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "instance": "/nowhere",
    }


def test_an_http_exceptions_detail_is_kept(http: TestClient) -> None:
    body = problem(http.get("/items/1"), 409)
    assert (body["title"], body["detail"]) == ("Conflict", "item 1 is taken")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PUT", "/items/7", "DELETE, GET"), ("PATCH", "/items", "GET, POST")],
)
def test_a_wrong_method_is_a_405_allowing_every_routes_methods(
    http: TestClient, method: str, path: str, allow: str
) -> None:
    response = http.request(method, path)
    assert problem(response, 405)["title"] == "Method Not Allowed"
    assert response.headers["Allow"] == allow


def test_an_unexpected_error_is_a_500_without_its_trace(http: TestClient) -> None:
    response = http.get("/boom")
    assert problem(response, 500)["title"] == "Internal Server Error"
    assert "secret" not in response.text


def test_allowed_methods_of_a_path() -> None:
    assert problems.allowed_methods(app, "/items/3") == ["DELETE", "GET"]
    assert problems.allowed_methods(app, "/nowhere") == []
