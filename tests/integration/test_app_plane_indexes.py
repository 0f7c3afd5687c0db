"""The app plane's list pages read their rows from an index in page order, with no sort (the
pool database, migration 0010: README, Performance)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

PAGES = {
    "notes_page": "SELECT id FROM notes WHERE tenant_key = 'acme' AND project_id = %(p)s "
    "AND (created_at, id) > (now(), %(p)s) ORDER BY created_at, id LIMIT 51",
    "projects_page": "SELECT id FROM projects WHERE tenant_key = 'acme' "
    "ORDER BY created_at, id LIMIT 51",
}


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


@pytest.mark.parametrize("index", sorted(PAGES))
def test_a_page_is_read_in_index_order_without_sorting(
    pool_admin: psycopg.Connection[Any], index: str
) -> None:
    with pool_admin.transaction():
        # However few rows the tables hold now, plan as if a sort or a scan of all were dear.
        pool_admin.execute("SET LOCAL enable_seqscan = off")
        pool_admin.execute("SET LOCAL enable_sort = off")
        row = pool_admin.execute(
            "EXPLAIN (FORMAT JSON) " + PAGES[index], {"p": uuid.uuid4()}
        ).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    nodes = _nodes(plan[0]["Plan"])
    assert not [n for n in nodes if "Sort" in n["Node Type"]], nodes
    assert index in {n.get("Index Name") for n in nodes}, nodes
