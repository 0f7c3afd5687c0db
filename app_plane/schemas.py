"""The app plane's request and response bodies: projects and their notes. Used by app_plane.main."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class ProjectPublic(ProjectCreate):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
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
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    id: uuid.UUID
    project_id: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime


class Export(BaseModel):
    """Everything a tenant has (streamed: the body is written as it is read)."""

    projects: list[ProjectPublic]
    notes: list[NotePublic]


class ExportPublic(BaseModel):
    """A background export (`POST /api/exports`) and, once done, its signed download link."""

    id: uuid.UUID
    state: str = Field(description="queued, running, done or failed")
    tables_done: int
    tables_total: int
    rows_done: int
    size_bytes: int | None = None
    error: str | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    manifest: dict[str, Any] | None = None
    download_url: str | None = Field(
        default=None, description="Works without a token until download_expires_at"
    )
    download_expires_at: dt.datetime | None = None
