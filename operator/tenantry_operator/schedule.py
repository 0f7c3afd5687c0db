"""When each Tenant is next due for a reconcile, the lock that keeps its reconciles one at a
time, and the one loop that runs every Tenant's reconcile when it is due.

`handlers` owns the single `Schedule`: its change handlers (kopf's worker threads) say when a
Tenant is next due, the child watch brings a Tenant forward, and `run_forever` (a thread of its
own, started at operator start-up) sleeps until the earliest Tenant is due (or a change makes
one due sooner; at most TICK seconds) and reconciles each due Tenant in a small pool of
threads. One loop for the whole fleet, not a task per Tenant: an idle operator wakes about
once a second whatever the number of tenants (a kopf daemon per Tenant woke each twice a
second, and held a task and its bookkeeping per Tenant).
"""

from __future__ import annotations

import concurrent.futures
import logging
import random
import threading
import time
from collections.abc import Callable

TICK = 1.0  # seconds the loop sleeps at most (it wakes sooner for a Tenant due sooner)
SETTLE = 0.1  # seconds a changed child waits, so a burst of changes is reconciled once
RETRY = 5.0  # seconds before a reconcile that raised is tried again
WORKERS = 4  # reconciles the loop runs at once (kopf's own workers run the change handlers)
log = logging.getLogger(__name__)


class Schedule:
    """When each Tenant is next due for a reconcile, and the lock that keeps its reconciles
    one at a time. Shared by the change handlers and the loop (threads both)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._clock, self._rand = clock, rand
        self._due: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()  # _due is read whole by `take_due` from another thread
        self._wake = threading.Event()  # set when a Tenant is due sooner than the loop thought

    def lock(self, name: str) -> threading.Lock:
        return self._locks.setdefault(name, threading.Lock())

    def delay(self, retry_in: float | None, interval: float, jitter: float) -> float:
        """Seconds to the next reconcile: `retry_in` when one asked for it, else the resync
        interval less up to `jitter` of it."""
        return retry_in if retry_in is not None else interval * (1 - jitter * self._rand())

    def after(self, name: str, seconds: float) -> None:
        with self._guard:
            self._due[name] = self._clock() + seconds
        self._wake.set()

    def start(self, name: str, seconds: float) -> None:
        """Due in `seconds`, unless a reconcile already said when."""
        with self._guard:
            self._due.setdefault(name, self._clock() + seconds)

    def soon(self, name: str) -> None:
        """Due in SETTLE seconds, unless it is due sooner anyway."""
        with self._guard:
            self._due[name] = min(self._due.get(name, float("inf")), self._clock() + SETTLE)
        self._wake.set()

    def is_due(self, name: str) -> bool:
        return self._clock() >= self._due.get(name, float("inf"))

    def take_due(self) -> list[str]:
        """The Tenants due now, earliest first, each taken off the schedule: its reconcile
        says when it is due again (one that finds its Tenant gone says nothing)."""
        now = self._clock()
        with self._guard:
            due = sorted((when, name) for name, when in self._due.items() if when <= now)
            for _, name in due:
                del self._due[name]
        return [name for _, name in due]

    def wait(self, longest: float) -> None:
        """Until the earliest Tenant is due, a change makes one due sooner, or `longest`
        seconds have passed."""
        self._wake.clear()  # first: a change from now on wakes the wait below
        now = self._clock()
        with self._guard:
            earliest = min(self._due.values(), default=now + longest)
        if earliest > now:
            self._wake.wait(min(longest, earliest - now))

    def forget(self, name: str) -> None:
        """Off the schedule (its lock stays: a handler may hold it now)."""
        with self._guard:
            self._due.pop(name, None)


class Peering(logging.Handler):
    """Whether kopf's peering lets this operator handle Tenants now. kopf pauses an operator
    while a peer of higher priority lives (a standby), and has no public hook for it; it logs
    each pause and resume, which this handler (on kopf's peering logger) follows. The loop and
    the backup timer wait while it is paused, as kopf's own handlers do."""

    LOGGER = "kopf._core.engines.peering"

    def __init__(self, *, paused: bool) -> None:
        super().__init__(level=logging.INFO)
        self._active = threading.Event()
        if not paused:
            self._active.set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Pausing"):
            self._active.clear()
        elif message.startswith("Resuming operations"):
            self._active.set()

    def active(self) -> bool:
        return self._active.is_set()

    @classmethod
    def follow(cls, peering: Peering) -> None:
        """Attach `peering` to kopf's peering logger, whose pauses it must hear whatever the
        log level (`--quiet` logs only warnings)."""
        logger = logging.getLogger(cls.LOGGER)
        logger.setLevel(logging.INFO)
        logger.addHandler(peering)


def run_forever(
    schedule: Schedule,
    converge: Callable[[str], None],
    *,
    stop: threading.Event | None = None,
    workers: int = WORKERS,
    active: Callable[[], bool] = lambda: True,
) -> None:
    """Reconcile each Tenant with `converge` as it falls due (at most `workers` at once, never
    one Tenant twice at once), while `active`; one that raises is due again in RETRY seconds."""
    stop = stop or threading.Event()
    running: set[str] = set()
    guard = threading.Lock()

    def one(name: str) -> None:
        try:
            converge(name)
        except Exception:  # the loop goes on: the next try is due in RETRY seconds
            log.exception("resync of tenant %s failed", name)
            schedule.after(name, RETRY)
        finally:
            with guard:
                running.discard(name)

    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="resync") as pool:
        while not stop.is_set():
            if not active():  # a standby in kopf's peering: the active peer reconciles
                stop.wait(TICK)
                continue
            for name in schedule.take_due():
                with guard:
                    if name in running:  # still reconciling: due again right after it
                        schedule.soon(name)
                        continue
                    running.add(name)
                pool.submit(one, name)
            schedule.wait(TICK)
