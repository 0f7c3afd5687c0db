"""The background export's routes: queue one, follow it, download its archive by signed link.

`POST /api/exports` (the `data:export` permission and the `export` feature, like
`GET /api/export`) answers 202 with the job (app_plane.exports). `GET /api/exports/{id}` shows its
progress and, once done, a download link that needs no token: it names the export and its
tenant, and is signed (HMAC) until an expiry (app_plane.archive), so it serves that one tenant's
archive, in time, and nothing else. Included by app_plane.main.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from app_plane import archive, deps, exports, schemas, settings
from tenantry_core import problems, scopes

router = APIRouter(tags=["export"])
_GUARDS: dict[str, Any] = {
    "dependencies": [Depends(deps.Allow(scopes.DATA_EXPORT)), Depends(deps.require("export"))],
    "openapi_extra": {"x-permission": scopes.DATA_EXPORT},
}


def _configured() -> settings.AppSettings:
    cfg = settings.get_settings()
    if not cfg.exports:
        where = "the shared app plane" if cfg.dedicated else "this app plane"
        raise problems.Problem(
            501,
            "Exports not available",
            f"{where} runs no background exports (TENANTRY_EXPORT_DIR and "
            "TENANTRY_EXPORT_LINK_SECRET; a silo's dedicated app has none: use GET /api/export)",
        )
    return cfg


def _public(job: dict[str, Any], request: Request) -> dict[str, Any]:
    body = {**job, "tables_total": len(archive.TABLES)}
    if job["state"] == "done":
        cfg = _configured()
        assert cfg.TENANTRY_EXPORT_LINK_SECRET is not None
        expires = int(time.time()) + cfg.TENANTRY_EXPORT_LINK_SECONDS
        query = archive.sign(
            cfg.TENANTRY_EXPORT_LINK_SECRET,
            export_id=str(job["id"]),
            tenant_key=job["tenant_key"],
            expires=expires,
        )
        url = request.url_for("download_export", export_id=str(job["id"]))
        body["download_url"] = str(url.include_query_params(**query))
        body["download_expires_at"] = dt.datetime.fromtimestamp(expires, dt.UTC)
    return body


@router.post("/api/exports", response_model=schemas.ExportPublic, status_code=202, **_GUARDS)
def create_export(caller: deps.CallerDep, request: Request, response: Response) -> dict[str, Any]:
    """Queue an export of everything the tenant has; the requester is mailed when it is ready."""
    _configured()
    job = exports.create(
        tenant_id=caller.tenant_id,
        tenant_key=caller.tenant_key,
        principal_id=caller.principal_id,
        kind=caller.principal_kind,
    )
    exports.wake()
    response.headers["Location"] = str(request.url_for("read_export", export_id=str(job["id"])))
    return _public(job, request)


@router.get("/api/exports/{export_id}", response_model=schemas.ExportPublic, **_GUARDS)
def read_export(export_id: uuid.UUID, caller: deps.CallerDep, request: Request) -> dict[str, Any]:
    _configured()
    job = exports.find(export_id=str(export_id), tenant_key=caller.tenant_key)
    if job is None:
        raise problems.Problem(404, "Not Found", "no such export")
    return _public(job, request)


@router.get(
    "/api/exports/{export_id}/archive",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
    # No token: the signed link carries the permission of the `data:export` holder it was
    # issued to (GET /api/exports/{id}), for this one export until it expires.
    openapi_extra={"x-permission": scopes.DATA_EXPORT, "x-credential": "signed link"},
)
def download_export(
    export_id: uuid.UUID,
    tenant: str = Query(description="The tenant the link was made for"),
    expires: int = Query(description="Unix seconds after which the link is refused"),
    signature: str = Query(description="HMAC-SHA256 of the export, tenant and expiry"),
) -> FileResponse:
    """The archive, for whoever holds a valid link (no token: the link is the credential)."""
    cfg = _configured()
    assert cfg.TENANTRY_EXPORT_LINK_SECRET is not None
    refused = archive.signed(
        cfg.TENANTRY_EXPORT_LINK_SECRET,
        export_id=str(export_id),
        tenant_key=tenant,
        expires=expires,
        signature=signature,
        now=time.time(),
    )
    if refused:
        raise problems.Problem(403, "Forbidden", refused)
    job = exports.find(export_id=str(export_id), tenant_key=tenant)
    if job is None or job["state"] != "done" or not exports.path(str(export_id)).exists():
        raise problems.Problem(404, "Not Found", "no such export archive")
    return FileResponse(
        exports.path(str(export_id)),
        media_type="application/zip",
        filename=f"{tenant}-export-{export_id}.zip",
    )
