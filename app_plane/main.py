"""The app plane's HTTP API (`uvicorn app_plane.main:app`): projects and their notes.

The tenant is the one named in the caller's verified access token; nothing in the path, query
or body can choose another.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import sqlalchemy as sa
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from app_plane import data, settings, usage
from tenantry_core import bearer, problems


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    usage.meter.start()
    yield
    usage.meter.stop()


app = FastAPI(
    lifespan=lifespan,
    title="Tenantry app plane",
    openapi_url="/api/openapi.json",
    docs_url="/api/docs",
)
problems.install(app)
app.add_middleware(CorrelationIdMiddleware)
_bearer = HTTPBearer(auto_error=False)


def tenant_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The tenant of the caller's verified token: the only way a request names its tenant."""
    cfg = settings.get_settings()
    principal = bearer.authenticate(
        credentials.credentials if credentials else None,
        public_key=cfg.JWT_PUBLIC_KEY,
        issuer=cfg.JWT_ISSUER,
        audience=cfg.JWT_AUDIENCE,
    )
    if not cfg.TENANTRY_TENANT_DATABASE_URL:  # a dedicated app does not meter
        usage.meter.count(principal.tenant_key)
    return principal.tenant_key


def transaction(key: Annotated[str, Depends(tenant_key)]) -> Iterator[sa.Connection]:
    try:
        with data.tenant_transaction(key) as conn:
            yield conn
    except data.TenantUnavailable as exc:
        raise problems.Problem(
            503, "Tenant unavailable", str(exc), headers={"Retry-After": "5"}
        ) from exc
    except data.WrongTenant as exc:
        raise problems.Problem(404, "Not Found", str(exc)) from exc


# scope="function": the transaction commits before the response leaves, so a write the client
# saw acknowledged is durable (and a failed commit is an error response, not a silent loss).
Tx = Annotated[sa.Connection, Depends(transaction, scope="function")]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class ProjectPublic(ProjectCreate):
    id: uuid.UUID
    created_at: dt.datetime


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=100_000)


class NoteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=100_000)


class NotePublic(NoteCreate):
    id: uuid.UUID
    project_id: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime


def _not_found(what: str) -> problems.Problem:
    return problems.Problem(404, "Not Found", f"no such {what}")


def _one(row: Any, what: str) -> dict[str, Any]:
    if row is None:
        raise _not_found(what)
    return dict(row._mapping)


@app.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/projects", response_model=list[ProjectPublic], tags=["projects"])
def list_projects(tx: Tx) -> list[dict[str, Any]]:
    rows = tx.execute(sa.text("SELECT id, name, created_at FROM projects ORDER BY created_at, id"))
    return [dict(r._mapping) for r in rows]


@app.post("/api/projects", response_model=ProjectPublic, status_code=201, tags=["projects"])
def create_project(body: ProjectCreate, tx: Tx) -> dict[str, Any]:
    row = tx.execute(
        sa.text("INSERT INTO projects (name) VALUES (:name) RETURNING id, name, created_at"),
        {"name": body.name},
    ).one()
    return dict(row._mapping)


@app.get("/api/projects/{project_id}", response_model=ProjectPublic, tags=["projects"])
def read_project(project_id: uuid.UUID, tx: Tx) -> dict[str, Any]:
    return _one(
        tx.execute(
            sa.text("SELECT id, name, created_at FROM projects WHERE id = :id"), {"id": project_id}
        ).one_or_none(),
        "project",
    )


@app.delete("/api/projects/{project_id}", status_code=204, tags=["projects"])
def delete_project(project_id: uuid.UUID, tx: Tx) -> Response:
    if not tx.execute(sa.text("DELETE FROM projects WHERE id = :id"), {"id": project_id}).rowcount:
        raise _not_found("project")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_NOTE = "id, project_id, title, body, created_at, updated_at"


@app.get("/api/projects/{project_id}/notes", response_model=list[NotePublic], tags=["notes"])
def list_notes(project_id: uuid.UUID, tx: Tx) -> list[dict[str, Any]]:
    read_project(project_id, tx)
    rows = tx.execute(
        sa.text(f"SELECT {_NOTE} FROM notes WHERE project_id = :p ORDER BY created_at, id"),
        {"p": project_id},
    )
    return [dict(r._mapping) for r in rows]


@app.post(
    "/api/projects/{project_id}/notes", response_model=NotePublic, status_code=201, tags=["notes"]
)
def create_note(project_id: uuid.UUID, body: NoteCreate, tx: Tx) -> dict[str, Any]:
    read_project(project_id, tx)
    row = tx.execute(
        sa.text(
            f"INSERT INTO notes (project_id, title, body) VALUES (:p, :t, :b) RETURNING {_NOTE}"
        ),
        {"p": project_id, "t": body.title, "b": body.body},
    ).one()
    return dict(row._mapping)


@app.get("/api/notes/{note_id}", response_model=NotePublic, tags=["notes"])
def read_note(note_id: uuid.UUID, tx: Tx) -> dict[str, Any]:
    return _one(
        tx.execute(
            sa.text(f"SELECT {_NOTE} FROM notes WHERE id = :id"), {"id": note_id}
        ).one_or_none(),
        "note",
    )


@app.patch("/api/notes/{note_id}", response_model=NotePublic, tags=["notes"])
def update_note(note_id: uuid.UUID, body: NoteUpdate, tx: Tx) -> dict[str, Any]:
    row = tx.execute(
        sa.text(
            f"UPDATE notes SET title = coalesce(:t, title), body = coalesce(:b, body), "
            f"updated_at = now() WHERE id = :id RETURNING {_NOTE}"
        ),
        {"id": note_id, "t": body.title, "b": body.body},
    ).one_or_none()
    return _one(row, "note")


@app.delete("/api/notes/{note_id}", status_code=204, tags=["notes"])
def delete_note(note_id: uuid.UUID, tx: Tx) -> Response:
    if not tx.execute(sa.text("DELETE FROM notes WHERE id = :id"), {"id": note_id}).rowcount:
        raise _not_found("note")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def require(feature: str) -> Callable[[str], str]:
    """A dependency that lets a request through only if the tenant's plan has `feature`."""

    def check(key: Annotated[str, Depends(tenant_key)]) -> str:
        tier, plans = data.entitlement(key, feature)
        if tier not in plans:
            raise problems.Problem(
                403,
                "Not in your plan",
                f"the {feature!r} feature is not in the {tier!r} plan; "
                f"plans that include it: {', '.join(plans) or 'none'}",
                type_="https://tenantry.dev/problems/entitlement",
                feature=feature,
                plan=tier,
                plans_with_feature=plans,
            )
        return key

    return check


class Export(BaseModel):
    projects: list[ProjectPublic]
    notes: list[NotePublic]


@app.get(
    "/api/export", response_model=Export, tags=["export"], dependencies=[Depends(require("export"))]
)
def export(tx: Tx) -> dict[str, Any]:
    """Everything the tenant has (the `export` feature: standard plans and up)."""
    projects = [
        dict(r._mapping)
        for r in tx.execute(
            sa.text("SELECT id, name, created_at FROM projects ORDER BY created_at, id")
        )
    ]
    notes = [
        dict(r._mapping)
        for r in tx.execute(sa.text(f"SELECT {_NOTE} FROM notes ORDER BY created_at, id"))
    ]
    return {"projects": projects, "notes": notes}
