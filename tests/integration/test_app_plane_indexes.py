"""A page of a project's notes, as the app queries it (its role, the tenant setting, row-level
security), is read from an index in page order, without a sort (migration 0010: README,
Figures)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg

from tenantry_core import routing

PAGE = (
    "SELECT id, project_id, title, body, created_at, updated_at FROM notes "
    "WHERE project_id = %(p)s AND (created_at, id) > (now(), %(p)s) "
    "ORDER BY created_at, id LIMIT 51"
)


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


def test_a_notes_page_is_read_in_index_order_without_sorting(env: dict[str, str]) -> None:
    with psycopg.connect(env["TENANTRY_APP_DATABASE_URL"]) as conn, conn.transaction():
        conn.execute("SELECT set_config(%s, 'acme', true)", (routing.TENANT_SETTING,))
        # However few rows the table holds now, plan as if a sort or a scan of all were dear.
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_sort = off")
        row = conn.execute("EXPLAIN (FORMAT JSON) " + PAGE, {"p": uuid.uuid4()}).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    nodes = _nodes(plan[0]["Plan"])
    assert not [n for n in nodes if "Sort" in n["Node Type"]], nodes
    assert "notes_page" in {n.get("Index Name") for n in nodes}, nodes
