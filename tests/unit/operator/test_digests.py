"""The arithmetic of a move's verification before the fence (`tenantry_operator.digests`)."""

from __future__ import annotations

from tenantry_operator import digests

D = digests.Digest


def test_taking_the_changed_rows_out_of_both_sides_leaves_equal_digests() -> None:
    # Source at S: rows a, b, c; target at T: a, b' (b changed since S), d (inserted since S).
    a, b, b2, c, d = 11, 22, 23, 33, 44
    source = {"notes": D(3, a + b + c)}
    target = {"notes": D(3, a + b2 + d)}
    assert digests.differing(source, target) == ["notes"]
    # Changed since S: b, c (deleted), d. In S: b and c; in T: b' and d.
    assert digests.minus(source, {"notes": D(2, b + c)}) == {"notes": D(1, a)}
    assert digests.minus(target, {"notes": D(2, b2 + d)}) == {"notes": D(1, a)}


def test_a_row_changed_behind_replications_back_still_differs() -> None:
    source = digests.minus({"notes": D(2, 5 + 7)}, {})
    target = digests.minus({"notes": D(2, 5 + 8)}, {})
    assert digests.differing(source, target) == ["notes"]
    assert digests.describe(["notes"], source, target) == (
        "notes: source 2 rows, target 2 rows, other contents"
    )


def test_a_table_one_side_lacks_counts_as_empty() -> None:
    assert digests.differing({"notes": D(0, 0)}, {}) == []
    assert digests.differing({"projects": D(1, 9)}, {"notes": D()}) == ["projects"]
    assert digests.describe(["projects"], {"projects": D(1, 9)}, {}) == (
        "projects: source 1 rows, target 0 rows"
    )


def test_changed_keys_are_distinct_per_table_in_the_order_first_seen() -> None:
    log: list[tuple[str, dict[str, object]]] = [
        ("notes", {"id": 2}),
        ("projects", {"id": 1}),
        ("notes", {"id": 1}),
        ("notes", {"id": 2}),
        ("members", {"project_id": 1, "user": "u"}),
        ("members", {"user": "u", "project_id": 1}),
    ]
    assert digests.changed_keys(log) == {
        "notes": [{"id": 2}, {"id": 1}],
        "projects": [{"id": 1}],
        "members": [{"project_id": 1, "user": "u"}],
    }


def test_batches_and_sums() -> None:
    keys = [{"id": n} for n in range(5)]
    assert digests.batches(keys, 2) == [keys[0:2], keys[2:4], keys[4:5]]
    assert digests.batches([], 2) == []
    assert digests.add([D(1, 2), D(3, -4)]) == D(4, -2)
    assert digests.add([]) == digests.EMPTY
