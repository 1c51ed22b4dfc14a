"""WorkQueue: client-go's contract (stingy, exclusive, re-queued when added during processing), delays on an
injected clock (add_after keeps the earliest deadline), the default rate limiter's timings, and shutdown."""

from __future__ import annotations

import asyncio

import pytest

from pybernetes.client.clock import FakeClock
from pybernetes.client.workqueue import RateLimiter, WorkQueue


async def spin(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def drain_now(q: WorkQueue) -> list[object]:
    """Keys queued right now, in order (without marking them processed)."""
    return list(q._queue)


async def test_stingy_a_key_added_twice_is_processed_once() -> None:
    q = WorkQueue(clock=FakeClock())
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_exclusive_and_requeued_when_added_during_processing() -> None:
    q = WorkQueue(clock=FakeClock())
    q.add("a")
    assert await q.get() == "a"
    q.add("a")                                  # changed while a worker holds it
    q.add("a")
    assert len(q) == 0                          # not handed to a second worker
    waiter = asyncio.ensure_future(q.get())
    await spin()
    assert not waiter.done()
    q.done("a")                                 # ... but queued again (once) when the first is done
    assert await asyncio.wait_for(waiter, 1) == "a"
    q.done("a")
    assert len(q) == 0


async def test_done_without_new_adds_does_not_requeue() -> None:
    q = WorkQueue(clock=FakeClock())
    q.add("a")
    await q.get()
    q.done("a")
    assert len(q) == 0
    q.add("a")
    assert drain_now(q) == ["a"]


async def test_waiting_workers_each_get_one_key() -> None:
    q = WorkQueue(clock=FakeClock())
    workers = [asyncio.ensure_future(q.get()) for _ in range(3)]
    await spin()
    q.add("a")
    q.add("b")
    await spin()
    done = [w.result() for w in workers if w.done()]
    assert sorted(done) == ["a", "b"]           # type: ignore[type-var]
    q.add("c")
    await spin()
    assert sorted(w.result() for w in workers) == ["a", "b", "c"]  # type: ignore[type-var]


async def test_a_cancelled_worker_passes_its_wake_up_on() -> None:
    q = WorkQueue(clock=FakeClock())
    first = asyncio.ensure_future(q.get())
    second = asyncio.ensure_future(q.get())
    await spin()
    q.add("a")                                  # wakes `first` ...
    first.cancel()                              # ... which is cancelled before it runs
    await spin()
    assert first.cancelled()
    assert second.done() and second.result() == "a"


# ------------------------------------------------------------------------------------------------ add_after
async def test_add_after_waits_for_the_clock() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("a", 5)
    await spin()
    assert len(q) == 0
    clock.advance(4.9)
    await spin()
    assert len(q) == 0
    clock.advance(0.1)
    await spin()
    assert drain_now(q) == ["a"]
    assert not q._waiting


async def test_add_after_keeps_the_earliest_deadline() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("late-then-early", 100)
    q.add_after("late-then-early", 2)           # sooner: replaces the pending 100 s
    q.add_after("early-then-late", 2)
    q.add_after("early-then-late", 100)         # later: ignored
    await spin()
    clock.advance(2)
    await spin()
    assert sorted(drain_now(q)) == ["early-then-late", "late-then-early"]   # type: ignore[type-var]
    assert not q._waiting and clock.waiting == 0                            # the replaced timer is gone too


async def test_add_after_of_a_queued_key_is_stingy() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add("a")
    q.add_after("a", 1)
    await spin()
    clock.advance(1)
    await spin()
    assert drain_now(q) == ["a"]


async def test_add_after_zero_or_negative_is_now() -> None:
    q = WorkQueue(clock=FakeClock())
    q.add_after("a", 0)
    q.add_after("b", -1)
    assert drain_now(q) == ["a", "b"]


async def test_add_rate_limited_and_forget() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    for expected in (0.005, 0.01, 0.02):
        q.add_rate_limited("k")
        await spin()
        assert len(q) == 0
        assert q._waiting["k"][0] == pytest.approx(clock.monotonic() + expected)
        clock.advance(expected)
        await spin()
        assert await q.get() == "k"
        q.done("k")
    assert q.retries("k") == 3
    q.forget("k")
    assert q.retries("k") == 0
    q.add_rate_limited("k")
    assert q._waiting["k"][0] == pytest.approx(clock.monotonic() + 0.005)


# ------------------------------------------------------------------------------------------------ rate limiter
def test_per_key_exponential_backoff_capped() -> None:
    rl = RateLimiter(clock=FakeClock(), burst=10_000)
    delays = [rl.when("a") for _ in range(20)]
    assert delays[:5] == [0.005, 0.01, 0.02, 0.04, 0.08]
    assert delays[-1] == 1000.0 and max(delays) == 1000.0
    assert rl.when("b") == 0.005                # per key
    rl.forget("a")
    assert rl.when("a") == 0.005


def test_overall_token_bucket() -> None:
    clock = FakeClock()
    rl = RateLimiter(clock=clock, qps=10, burst=100)
    delays = [rl.when(i) for i in range(100)]   # 100 different keys: the burst
    assert set(delays) == {0.005}
    assert rl.when("x") == pytest.approx(0.1)   # the 101st waits one token (1/qps)
    assert rl.when("y") == pytest.approx(0.2)
    clock.advance(10)                           # tokens refill at qps, up to burst
    assert rl.when("z") == 0.005


def test_limiter_uses_the_larger_delay() -> None:
    clock = FakeClock()
    rl = RateLimiter(clock=clock, qps=1, burst=1, base=0.5)
    assert rl.when("a") == 0.5                  # backoff (bucket has a token)
    assert rl.when("b") == pytest.approx(1.0)   # bucket (backoff only 0.5)


# ------------------------------------------------------------------------------------------------ shutdown
async def test_shutdown_drains_then_returns_none() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add("a")
    q.add_after("later", 10)
    idle = asyncio.ensure_future(q.get())
    await spin()
    assert idle.result() == "a"
    waiting = asyncio.ensure_future(q.get())
    await spin()
    q.add("b")
    await spin()
    assert waiting.result() == "b"
    blocked = asyncio.ensure_future(q.get())
    await spin()
    await q.shutdown()
    await spin()
    assert blocked.done() and blocked.result() is None     # idle workers are released
    assert await q.get() is None
    q.add("c")                                             # ignored once shut down
    q.add_after("d", 1)
    assert len(q) == 0
    clock.advance(100)
    await spin()
    assert len(q) == 0                                     # pending delays were cancelled


async def test_shutdown_lets_workers_finish_queued_keys() -> None:
    q = WorkQueue(clock=FakeClock())
    q.add("a")
    q.add("b")
    await q.shutdown()
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert await q.get() is None


async def test_add_after_counts_from_the_call_not_from_when_its_timer_starts() -> None:
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("a", 5)
    clock.advance(5)                            # before the timer task has even run
    await spin()
    assert drain_now(q) == ["a"]
