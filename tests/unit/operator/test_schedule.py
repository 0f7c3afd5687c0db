"""The convergence schedule and its one loop: when a Tenant is due, and that the loop
reconciles each due Tenant once, retries one that raised, and never runs one twice at once."""

import logging
import threading
import time

from tenantry_operator import schedule as schedule


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_resync_waits_the_interval_less_some_jitter() -> None:
    plan = schedule.Schedule(rand=lambda: 1.0)
    assert plan.delay(None, 20.0, 0.25) == 15.0
    assert schedule.Schedule(rand=lambda: 0.0).delay(None, 20.0, 0.25) == 20.0
    assert plan.delay(0.5, 20.0, 0.25) == 0.5, "a retry asked for comes first"


def test_a_tenant_is_due_only_when_its_time_comes() -> None:
    clock = Clock()
    plan = schedule.Schedule(clock=clock)
    assert not plan.is_due("acme"), "a tenant nobody scheduled is not due"
    plan.after("acme", 10.0)
    clock.now += 9.9
    assert not plan.is_due("acme")
    clock.now += 0.1
    assert plan.is_due("acme")
    plan.forget("acme")
    assert not plan.is_due("acme")


def test_a_changed_child_brings_its_tenant_forward_never_back() -> None:
    clock = Clock()
    plan = schedule.Schedule(clock=clock)
    plan.after("acme", 20.0)
    plan.soon("acme")
    clock.now += schedule.SETTLE
    assert plan.is_due("acme")
    plan.after("acme", 0.0)
    plan.soon("acme")
    assert plan.is_due("acme"), "soon never postpones a tenant already due"


def test_the_handlers_start_keeps_what_a_reconcile_asked_for() -> None:
    clock = Clock()
    plan = schedule.Schedule(clock=clock)
    plan.after("acme", 0.5)
    plan.start("acme", 20.0)
    clock.now += 0.5
    assert plan.is_due("acme")
    plan.start("new", 20.0)
    assert not plan.is_due("new")


def test_one_lock_per_tenant() -> None:
    plan = schedule.Schedule()
    assert plan.lock("acme") is plan.lock("acme")
    assert plan.lock("acme") is not plan.lock("globex")


def test_due_tenants_are_taken_off_earliest_first() -> None:
    clock = Clock()
    plan = schedule.Schedule(clock=clock)
    plan.after("late", 2.0)
    plan.after("early", 1.0)
    plan.after("later", 60.0)
    clock.now += 5
    assert plan.take_due() == ["early", "late"]
    assert plan.take_due() == [], "a taken tenant is due again only when its reconcile says"
    assert not plan.is_due("early")
    plan.forget("later")
    clock.now += 60
    assert plan.take_due() == []


def test_the_loop_reconciles_due_tenants_and_retries_one_that_raised() -> None:
    plan = schedule.Schedule()
    seen: list[str] = []
    stop = threading.Event()

    def converge(name: str) -> None:
        seen.append(name)
        if name == "broken" and seen.count("broken") == 1:
            raise RuntimeError("API server down")
        plan.after(name, 3600)  # what a reconcile says: due again at the next resync

    plan.after("acme", 0)
    plan.after("broken", 0)
    plan.after("idle", 3600)
    loop = threading.Thread(
        target=schedule.run_forever, args=(plan, converge), kwargs={"stop": stop}
    )
    loop.start()
    deadline = time.monotonic() + schedule.RETRY + 5
    while seen.count("broken") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    loop.join(timeout=10)
    assert sorted(set(seen)) == ["acme", "broken"]
    assert seen.count("acme") == 1
    assert seen.count("broken") == 2, "a reconcile that raised is tried again after RETRY"


def test_a_tenant_due_sooner_wakes_the_loop() -> None:
    plan = schedule.Schedule()
    woke = threading.Event()
    plan.after("idle", 3600)

    def wait() -> None:
        plan.wait(30)
        woke.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)
    assert not woke.is_set()
    plan.soon("acme")
    assert woke.wait(5), "soon() wakes the loop's wait"
    waiter.join()


def test_the_loop_never_runs_one_tenant_twice_at_once() -> None:
    plan = schedule.Schedule()
    stop, release = threading.Event(), threading.Event()
    running, most = [0], [0]
    guard = threading.Lock()

    def converge(name: str) -> None:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        plan.soon(name)  # a child changed meanwhile: due again while this one still runs
        release.wait(timeout=5)
        with guard:
            running[0] -= 1

    plan.after("acme", 0)
    loop = threading.Thread(
        target=schedule.run_forever, args=(plan, converge), kwargs={"stop": stop}
    )
    loop.start()
    time.sleep(1.0)  # the loop finds it due again and again meanwhile
    release.set()
    time.sleep(0.5)
    stop.set()
    loop.join(timeout=10)
    assert most[0] == 1


def test_a_standby_follows_kopfs_pauses_and_resumes() -> None:
    peering = schedule.Peering(paused=True)
    logger = logging.getLogger(f"{schedule.Peering.LOGGER}.test")
    logger.addHandler(peering)
    logger.setLevel(logging.INFO)
    try:
        assert not peering.active(), "a peer of a mandatory peering starts paused"
        logger.info("Resuming operations after the pause. Conflicting operators are gone.")
        assert peering.active()
        logger.info("Pausing operations in favour of [<Peer other: priority=9>].")
        assert not peering.active()
        logger.warning("Pausing all operators, including self: [...]")
        assert not peering.active()
    finally:
        logger.removeHandler(peering)
    assert schedule.Peering(paused=False).active(), "standalone: active from the start"


def test_a_paused_loop_reconciles_nothing() -> None:
    plan = schedule.Schedule()
    seen: list[str] = []
    stop = threading.Event()
    plan.after("acme", 0)
    loop = threading.Thread(
        target=schedule.run_forever,
        args=(plan, seen.append),
        kwargs={"stop": stop, "active": lambda: False},
    )
    loop.start()
    time.sleep(2 * schedule.TICK)
    stop.set()
    loop.join(timeout=10)
    assert seen == []
    assert plan.is_due("acme"), "still due: the active peer, or this one once it resumes"
