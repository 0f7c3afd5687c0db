"""A client's failed sign-ins cost nothing up to its free ones, then double its wait, capped."""

from __future__ import annotations

from control_plane.api import signin


def test_the_wait_doubles_after_the_free_failures_up_to_the_cap() -> None:
    waits = [signin.delay(n, free=3, cap=10) for n in range(1, 9)]
    assert waits == [0, 0, 1, 2, 4, 8, 10, 10]
    assert signin.delay(10**6, free=3, cap=900) == 900  # no overflow, however many
