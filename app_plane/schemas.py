"""The app plane's request and response bodies: projects and their notes. Used by app_plane.main."""

from __future__ import annotations

import datetime as dt
import uuid

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
