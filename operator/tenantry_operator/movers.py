"""The runners of live moves: a bounded pool of mover threads, one job per moving Tenant, apart
from kopf's workers and the reconciles. Used by `steps` (a reconcile starts or observes its
Tenant's move, collects what it returned once it ended, and offboarding stops it) and
configured by `handlers` (who to wake when a move ends).

A move's progress is in the Tenant's status (`status.migration`), never only here: an operator
that dies loses its movers, and the next reconcile starts the move again from its phase. At
most `limit` moves run at once; more wait in the queue, in the order their reconciles asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)
Job = Callable[[threading.Event], object]  # runs one move; stops early once the event is set


class Movers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._limit = 0
        self._jobs: dict[str, tuple[Future[object], threading.Event]] = {}
        self.notify: Callable[[str], None] = lambda name: None  # called when a move ends

    def busy(self, name: str) -> bool:
        """Whether a move of the Tenant `name` is queued or running."""
        with self._lock:
            found = self._jobs.get(name)
            return found is not None and not found[0].done()

    def submit(self, name: str, job: Job, *, limit: int) -> bool:
        """Run `job` for the Tenant `name` unless one is queued or running; True if it started
        now or runs already, False if it waits for a free mover."""
        with self._lock:
            if self._pool is None or self._limit != limit:
                if self._pool is not None:  # running moves finish in the old pool
                    self._pool.shutdown(wait=False)
                self._pool, self._limit = (
                    ThreadPoolExecutor(max_workers=limit, thread_name_prefix="mover"),
                    limit,
                )
            found = self._jobs.get(name)
            if found is None or found[0].done():
                stopping = threading.Event()
                found = (self._pool.submit(self._run, name, job, stopping), stopping)
                self._jobs[name] = found
            return found[0].running() or found[0].done()

    def _run(self, name: str, job: Job, stopping: threading.Event) -> object:
        try:
            return job(stopping)
        except Exception:  # the next reconcile starts the move again from its status
            log.exception("the move of tenant %s stopped", name)
            return None
        finally:
            self.notify(name)

    def collect(self, name: str) -> object:
        """What the Tenant's move returned, once it ended (then forgotten); else None."""
        with self._lock:
            found = self._jobs.get(name)
            if found is None or not found[0].done() or found[0].cancelled():
                return None
            del self._jobs[name]
            return found[0].result()

    def stop(self, name: str, *, timeout: float = 120.0) -> None:
        """Ask the Tenant's move to stop after its current step and wait for it (or drop it
        from the queue)."""
        with self._lock:
            found = self._jobs.get(name)
        if found is None:
            return
        future, stopping = found
        stopping.set()
        if not future.cancel():
            future.exception(timeout=timeout)  # still running after that: TimeoutError
        with self._lock:
            if self._jobs.get(name) is found:
                del self._jobs[name]


MOVERS = Movers()
