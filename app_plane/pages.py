"""Keyset pagination for the app plane's lists: `?limit=` (1 to 1000, 100 by default) and an
opaque `?cursor=`; the next page's address goes in a `Link: <...>; rel="next"` header, so a list
stays a JSON array. Pure; used by app_plane.main.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tenantry_core import problems

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def decode(cursor: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """The (created_at, id) a page starts after, or a 400 problem for a cursor we did not make."""
    if cursor is None:
        return None
    try:
        stamp, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return dt.datetime.fromisoformat(stamp), uuid.UUID(ident)
    except ValueError as exc:
        raise problems.Problem(400, "Bad Request", "the cursor is not one this API made") from exc


def encode(row: Mapping[str, Any]) -> str:
    created_at: dt.datetime = row["created_at"]
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row['id']}".encode()).decode()


def after(cursor: tuple[dt.datetime, uuid.UUID] | None) -> tuple[str, dict[str, Any]]:
    """The SQL condition (and its parameters) for rows after `cursor`, in (created_at, id) order."""
    if cursor is None:
        return "TRUE", {}
    return "(created_at, id) > (:after_at, :after_id)", {
        "after_at": cursor[0],
        "after_id": cursor[1],
    }


def link(url: str, rows: Sequence[Mapping[str, Any]], limit: int) -> str | None:
    """The `Link` header of a page fetched with `limit + 1` rows, None on the last page."""
    if len(rows) <= limit:
        return None
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(limit=str(limit), cursor=encode(rows[limit - 1]))
    return f'<{parts._replace(query=urlencode(query)).geturl()}>; rel="next"'
