"""Keyset pages of the app plane's lists: cursors round-trip, foreign cursors are refused, and
the `Link` header appears only when another page exists."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from app_plane import pages
from tenantry_core import problems

ROWS: list[dict[str, Any]] = [
    {"id": uuid.UUID(int=i), "created_at": dt.datetime(2026, 11, 24, 7, i, tzinfo=dt.UTC)}
    for i in range(3)
]


def test_a_cursor_names_the_row_a_page_ends_with() -> None:
    assert pages.decode(pages.encode(ROWS[1])) == (ROWS[1]["created_at"], ROWS[1]["id"])
    assert pages.decode(None) is None


@pytest.mark.parametrize("cursor", ["bogus", "", "bm90LWEtZGF0ZXxub3QtYS11dWlk"])
def test_a_cursor_we_did_not_make_is_a_400(cursor: str) -> None:
    with pytest.raises(problems.Problem) as refused:
        pages.decode(cursor)
    assert refused.value.status == 400


def test_the_condition_selects_rows_after_the_cursor() -> None:
    assert pages.after(None) == ("TRUE", {})
    condition, params = pages.after((ROWS[0]["created_at"], ROWS[0]["id"]))
    assert condition == "(created_at, id) > (:after_at, :after_id)"
    assert params == {"after_at": ROWS[0]["created_at"], "after_id": ROWS[0]["id"]}


def test_the_link_points_at_the_next_page_only_when_there_is_one() -> None:
    url = "http://app/api/projects?limit=2&other=x"
    assert pages.link(url, ROWS[:2], 2) is None
    link = pages.link(url, ROWS, 2)
    assert link is not None
    target, rel = link.split("; ")
    assert rel == 'rel="next"'
    parts = urlsplit(target.strip("<>"))
    query = dict(parse_qsl(parts.query))
    assert (parts.path, query["limit"], query["other"]) == ("/api/projects", "2", "x")
    assert pages.decode(query["cursor"]) == (ROWS[1]["created_at"], ROWS[1]["id"])
