"""The export archive's format and its download links (used by app_plane.exports and the tests).

An archive is a ZIP file: one JSON Lines file per table (`projects.jsonl`, `notes.jsonl`: one
object a line, in (created_at, id) order, the fields of the API's public schemas) and
`manifest.json`, written last: the format version, the tenant, and for each table its file, row
count and the sha256 of the file's bytes. `write` streams rows from a server-side cursor in
chunks of CHUNK_ROWS, so an archive of any size costs a bounded amount of memory; `check`
verifies an archive against its manifest.

A download link carries the export's id, its tenant, an expiry (Unix seconds) and an HMAC-SHA256
of the three under the app's TENANTRY_EXPORT_LINK_SECRET: `sign` makes one, `signed` checks one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from app_plane import schemas

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK_ROWS = 1000


@dataclass(frozen=True)
class Table:
    name: str
    select: str
    model: type[BaseModel]

    @property
    def file(self) -> str:
        return f"{self.name}.jsonl"


TABLES = (
    Table("projects", "SELECT id, name, created_at FROM projects", schemas.ProjectPublic),
    Table(
        "notes",
        "SELECT id, project_id, title, body, created_at, updated_at FROM notes",
        schemas.NotePublic,
    ),
)

Progress = Callable[[int, int], None]  # (tables done, rows done so far), after each chunk


def write(
    conn: sa.Connection, path: Path, *, header: dict[str, Any], progress: Progress
) -> dict[str, Any]:
    """Write the archive of what `conn` (a tenant transaction) sees to `path`; its manifest
    (`header` plus the tables) is returned and stored as the archive's last member."""
    tables, rows_done = [], 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, table in enumerate(TABLES):
            digest, count = hashlib.sha256(), 0
            with archive.open(table.file, "w", force_zip64=True) as out:
                # A server-side cursor, fetched CHUNK_ROWS at a time (`yield_per` alone
                # still buffers the whole result with psycopg 3: the memory test shows it).
                result = conn.execution_options(
                    stream_results=True, max_row_buffer=CHUNK_ROWS
                ).execute(sa.text(f"{table.select} ORDER BY created_at, id"))
                for chunk in result.partitions(CHUNK_ROWS):
                    lines = b"".join(
                        table.model.model_validate(dict(row._mapping)).model_dump_json().encode()
                        + b"\n"
                        for row in chunk
                    )
                    digest.update(lines)
                    out.write(lines)
                    count += len(chunk)
                    progress(done, rows_done + count)
            rows_done += count
            sha256 = digest.hexdigest()
            tables.append({"name": table.name, "file": table.file, "rows": count, "sha256": sha256})
            progress(done + 1, rows_done)
        manifest = {"format_version": FORMAT_VERSION, **header, "tables": tables}
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


class Corrupt(Exception):
    """An archive that does not match its manifest."""


def check(path: Path) -> dict[str, Any]:
    """The manifest of the archive at `path`, once every file matched its count and checksum."""
    with zipfile.ZipFile(path) as archive:
        manifest: dict[str, Any] = json.loads(archive.read(MANIFEST))
        for table in manifest["tables"]:
            digest, lines = hashlib.sha256(), 0
            with archive.open(table["file"]) as member:
                for line in member:
                    digest.update(line)
                    lines += 1
            if (lines, digest.hexdigest()) != (table["rows"], table["sha256"]):
                raise Corrupt(f"{table['file']} does not match the manifest")
    return manifest


def _mac(secret: str, export_id: str, tenant_key: str, expires: int) -> str:
    message = f"{export_id}\n{tenant_key}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, *, export_id: str, tenant_key: str, expires: int) -> dict[str, str]:
    """The query of a download link for one tenant's export, valid until `expires`."""
    signature = _mac(secret, export_id, tenant_key, expires)
    return {"tenant": tenant_key, "expires": str(expires), "signature": signature}


def signed(
    secret: str, *, export_id: str, tenant_key: str, expires: int, signature: str, now: float
) -> str | None:
    """Why a link is refused (None: it is good): a bad signature, or its expiry passed."""
    if not hmac.compare_digest(_mac(secret, export_id, tenant_key, expires), signature):
        return "the link's signature does not match"
    if now >= expires:
        return "the link has expired"
    return None
