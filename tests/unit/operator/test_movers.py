"""The mover threads of live moves (`tenantry_operator.movers`): bounded, one job per tenant,
stoppable, and they say when a move ended."""

from __future__ import annotations

import threading
import time

from tenantry_operator import movers


def test_at_most_limit_moves_run_and_one_per_tenant() -> None:
    pool = movers.Movers()
    ended: list[str] = []
    all_ended = threading.Event()

    def notify(name: str) -> None:
        ended.append(name)
        if len(ended) == 3:
            all_ended.set()

    pool.notify = notify
    release = threading.Event()
    started: list[str] = []

    def job(name: str) -> movers.Job:
        def run(stopping: threading.Event) -> None:
            started.append(name)
            release.wait(5)

        return run

    assert pool.submit("a", job("a"), limit=2) in (True, False)
    pool.submit("b", job("b"), limit=2)
    assert pool.submit("c", job("c"), limit=2) is False, "the third waits for a free mover"
    pool.submit("a", job("a again"), limit=2)  # a's move runs already: not a second one
    release.set()
    assert all_ended.wait(5)
    assert sorted(started) == ["a", "b", "c"], "c ran once a mover was free; a ran once"
    assert sorted(ended) == ["a", "b", "c"]


def test_stop_drops_a_queued_move() -> None:
    pool = movers.Movers()
    release = threading.Event()
    ran: list[str] = []
    pool.submit("a", lambda stopping: release.wait(5), limit=1)
    pool.submit("b", lambda stopping: ran.append("b"), limit=1)
    pool.stop("b")
    release.set()
    pool.stop("a")
    assert ran == []


def test_stop_asks_the_move_to_stop_and_waits_for_it() -> None:
    pool = movers.Movers()
    seen = threading.Event()
    began = threading.Event()

    def run(stopping: threading.Event) -> None:
        began.set()
        if stopping.wait(5):
            seen.set()

    pool.submit("a", run, limit=1)
    assert began.wait(5)
    pool.stop("a")
    assert seen.is_set()
    pool.stop("a")  # nothing left: no error


def test_a_failing_move_is_logged_and_another_can_start() -> None:
    pool = movers.Movers()
    done = threading.Event()
    pool.notify = lambda name: done.set()

    def boom(stopping: threading.Event) -> None:
        raise RuntimeError("database gone")

    pool.submit("a", boom, limit=1)
    assert done.wait(5)
    ran = threading.Event()
    pool.submit("a", lambda stopping: ran.set(), limit=1)
    assert ran.wait(5)


def test_what_a_move_returned_is_collected_once() -> None:
    pool = movers.Movers()
    release = threading.Event()
    pool.submit("a", lambda stopping: "Completed" if release.wait(5) else None, limit=1)
    assert pool.collect("a") is None, "still running"
    release.set()
    found = None
    for _ in range(500):
        found = pool.collect("a")
        if found is not None:
            break
        time.sleep(0.01)
    assert found == "Completed"
    assert pool.collect("a") is None, "forgotten once collected"
