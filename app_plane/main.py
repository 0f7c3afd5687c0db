"""The app plane's HTTP API (`uvicorn app_plane.main:app`): projects and their notes.

The tenant is the one the caller's credential names (app_plane.access); nothing in the path,
query or body can choose another. Each route needs a `data:*` permission (published in OpenAPI
as `x-permission`): viewers read, members also write, deleting and exporting need their own.
Lists are pages (app_plane.pages); the export streams. Each request is a server span with its
tenant's key (`tenantry_core.serverspans`), exported when OTEL_EXPORTER_OTLP_ENDPOINT is set.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from typing import Annotated, Any

import sqlalchemy as sa
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse

from app_plane import (
    data,
    deps,
    export_routes,
    exports,
    features,
    metrics,
    pages,
    schemas,
    settings,
    usage,
)
from tenantry_core import logs, problems, scopes, serverspans, tracing

INSUFFICIENT_PRIVILEGE = "42501"  # Postgres's SQLSTATE for "permission denied"


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    logs.configure()
    features.install()
    tracing.configure(tracing.APP_PLANE)
    usage.meter.start()
    if settings.get_settings().exports:
        exports.start()
    yield
    exports.stop()
    usage.meter.stop()


app = FastAPI(
    lifespan=lifespan,
    telemetry=serverspans.TELEMETRY,
    title="Tenantry app plane",
    openapi_url="/api/openapi.json",
    docs_url="/api/docs",
)
problems.install(app)
app.include_router(export_routes.router)
metrics.install(app)
app.add_middleware(
    logs.AccessLog,
    logger="app_plane.access",
    fields=lambda state: {"tenant_key": state.get(metrics.STATE_KEY)},
)
app.add_middleware(
    serverspans.ServerSpans,
    fields=lambda state: {"tenantry.tenant_key": state.get(metrics.STATE_KEY)},
)
app.add_middleware(CorrelationIdMiddleware)


@contextmanager
def _tenant_transaction(tenant_key: str) -> Iterator[sa.Connection]:
    try:
        with data.tenant_transaction(tenant_key) as conn:
            yield conn
    except data.TenantUnavailable as exc:
        raise problems.Problem(
            503, "Tenant unavailable", str(exc), headers={"Retry-After": "5"}
        ) from exc
    except data.WrongTenant as exc:
        raise problems.Problem(404, "Not Found", str(exc)) from exc
    except sa.exc.DBAPIError as exc:
        if not moved_away(exc):
            raise
        raise problems.Problem(
            503,
            "Tenant moved",
            "the tenant's data moved to another server; this replica is being replaced",
            headers={"Retry-After": "2"},
        ) from exc


def moved_away(exc: sa.exc.DBAPIError) -> bool:
    """Whether a silo's dedicated replica was refused by the copy its tenant moved away from
    (frozen at the move's switch) until the replica is rolled onto the new server: its clients
    retry (503), they do not fail (500)."""
    refused = getattr(exc.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    return refused and settings.get_settings().dedicated


def transaction(caller: deps.CallerDep) -> Iterator[sa.Connection]:
    with _tenant_transaction(caller.tenant_key) as conn:
        yield conn


# scope="function": the transaction commits before the response leaves, so a write the client
# saw acknowledged is durable (and a failed commit is an error response, not a silent loss).
Tx = Annotated[sa.Connection, Depends(transaction, scope="function")]
Limit = Annotated[int, Query(ge=1, le=pages.MAX_LIMIT, description="Items a page")]
Cursor = Annotated[str | None, Query(description="Where the page starts: from the Link header")]


def _not_found(what: str) -> problems.Problem:
    return problems.Problem(404, "Not Found", f"no such {what}")


def _one(row: Any, what: str) -> dict[str, Any]:
    if row is None:
        raise _not_found(what)
    return dict(row._mapping)


class Page:
    """The page of a list a request asks for (`?limit=`, `?cursor=`); the next page's address
    goes in the response's `Link` header."""

    def __init__(
        self,
        request: Request,
        response: Response,
        limit: Limit = pages.DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> None:
        self.url, self.response = str(request.url), response
        self.limit, self.cursor = limit, pages.decode(cursor)

    def of(
        self, tx: sa.Connection, select: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """This page of `select` (which ends in a WHERE clause), in (created_at, id) order."""
        condition, after = pages.after(self.cursor)
        rows = [
            dict(r._mapping)
            for r in tx.execute(
                sa.text(f"{select} AND {condition} ORDER BY created_at, id LIMIT :limit"),
                {**(params or {}), **after, "limit": self.limit + 1},
            )
        ]
        link = pages.link(self.url, rows, self.limit)
        if link:
            self.response.headers["Link"] = link
        return rows[: self.limit]


PageDep = Annotated[Page, Depends()]


@app.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


_PROJECT = "id, name, created_at"
_NOTE = "id, project_id, title, body, created_at, updated_at"


@app.get(
    "/api/projects",
    response_model=list[schemas.ProjectPublic],
    tags=["projects"],
    **deps.needs(scopes.DATA_READ),
)
def list_projects(tx: Tx, page: PageDep) -> list[dict[str, Any]]:
    return page.of(tx, f"SELECT {_PROJECT} FROM projects WHERE TRUE")


@app.post(
    "/api/projects",
    response_model=schemas.ProjectPublic,
    status_code=201,
    tags=["projects"],
    **deps.needs(scopes.DATA_WRITE),
)
def create_project(body: schemas.ProjectCreate, tx: Tx) -> dict[str, Any]:
    row = tx.execute(
        sa.text(f"INSERT INTO projects (name) VALUES (:name) RETURNING {_PROJECT}"),
        {"name": body.name},
    ).one()
    return dict(row._mapping)


def _project(tx: sa.Connection, project_id: uuid.UUID) -> dict[str, Any]:
    return _one(
        tx.execute(
            sa.text(f"SELECT {_PROJECT} FROM projects WHERE id = :id"), {"id": project_id}
        ).one_or_none(),
        "project",
    )


@app.get(
    "/api/projects/{project_id}",
    response_model=schemas.ProjectPublic,
    tags=["projects"],
    **deps.needs(scopes.DATA_READ),
)
def read_project(project_id: uuid.UUID, tx: Tx) -> dict[str, Any]:
    return _project(tx, project_id)


@app.delete(
    "/api/projects/{project_id}",
    status_code=204,
    tags=["projects"],
    **deps.needs(scopes.DATA_DELETE),
)
def delete_project(project_id: uuid.UUID, tx: Tx) -> None:
    if not tx.execute(sa.text("DELETE FROM projects WHERE id = :id"), {"id": project_id}).rowcount:
        raise _not_found("project")


@app.get(
    "/api/projects/{project_id}/notes",
    response_model=list[schemas.NotePublic],
    tags=["notes"],
    **deps.needs(scopes.DATA_READ),
)
def list_notes(project_id: uuid.UUID, tx: Tx, page: PageDep) -> list[dict[str, Any]]:
    _project(tx, project_id)
    return page.of(tx, f"SELECT {_NOTE} FROM notes WHERE project_id = :p", {"p": project_id})


@app.post(
    "/api/projects/{project_id}/notes",
    response_model=schemas.NotePublic,
    status_code=201,
    tags=["notes"],
    **deps.needs(scopes.DATA_WRITE),
)
def create_note(project_id: uuid.UUID, body: schemas.NoteCreate, tx: Tx) -> dict[str, Any]:
    _project(tx, project_id)
    row = tx.execute(
        sa.text(
            f"INSERT INTO notes (project_id, title, body) VALUES (:p, :t, :b) RETURNING {_NOTE}"
        ),
        {"p": project_id, "t": body.title, "b": body.body},
    ).one()
    return dict(row._mapping)


@app.get(
    "/api/notes/{note_id}",
    response_model=schemas.NotePublic,
    tags=["notes"],
    **deps.needs(scopes.DATA_READ),
)
def read_note(note_id: uuid.UUID, tx: Tx) -> dict[str, Any]:
    return _one(
        tx.execute(
            sa.text(f"SELECT {_NOTE} FROM notes WHERE id = :id"), {"id": note_id}
        ).one_or_none(),
        "note",
    )


@app.patch(
    "/api/notes/{note_id}",
    response_model=schemas.NotePublic,
    tags=["notes"],
    **deps.needs(scopes.DATA_WRITE),
)
def update_note(note_id: uuid.UUID, body: schemas.NoteUpdate, tx: Tx) -> dict[str, Any]:
    row = tx.execute(
        sa.text(
            f"UPDATE notes SET title = coalesce(:t, title), body = coalesce(:b, body), "
            f"updated_at = now() WHERE id = :id RETURNING {_NOTE}"
        ),
        {"id": note_id, "t": body.title, "b": body.body},
    ).one_or_none()
    return _one(row, "note")


@app.delete(
    "/api/notes/{note_id}", status_code=204, tags=["notes"], **deps.needs(scopes.DATA_DELETE)
)
def delete_note(note_id: uuid.UUID, tx: Tx) -> None:
    if not tx.execute(sa.text("DELETE FROM notes WHERE id = :id"), {"id": note_id}).rowcount:
        raise _not_found("note")


@app.get(
    "/api/export",
    response_model=schemas.Export,
    tags=["export"],
    dependencies=[Depends(deps.Allow(scopes.DATA_EXPORT)), Depends(deps.require("export"))],
    openapi_extra={"x-permission": scopes.DATA_EXPORT},
)
def export(caller: deps.CallerDep) -> StreamingResponse:
    """Everything the tenant has (the `export` feature: standard plans and up), streamed as
    it is read, in one transaction, so its size costs no memory."""
    stack = ExitStack()
    tx = stack.enter_context(_tenant_transaction(caller.tenant_key))
    return StreamingResponse(_export_body(stack, tx), media_type="application/json")


def _export_body(stack: ExitStack, tx: sa.Connection) -> Iterator[bytes]:
    with stack:
        for name, select, model in (
            ("projects", f"SELECT {_PROJECT} FROM projects", schemas.ProjectPublic),
            ("notes", f"SELECT {_NOTE} FROM notes", schemas.NotePublic),
        ):
            yield (b'{"' if name == "projects" else b'],"') + name.encode() + b'":['
            rows = tx.execution_options(stream_results=True, max_row_buffer=500).execute(
                sa.text(f"{select} ORDER BY created_at, id")
            )  # a server-side cursor (`yield_per` alone buffers it all: app_plane.archive)
            for i, row in enumerate(rows):
                item = model.model_validate(dict(row._mapping)).model_dump_json().encode()
                yield item if i == 0 else b"," + item
        yield b"]}"
