"""One loop spreading every node's heartbeat evenly over the period."""

from __future__ import annotations

import asyncio
import itertools
import random

from pybernetes.client.clock import FakeClock
from pybernetes.kubelet.heartbeat import Spread


async def spin() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_many_nodes_are_spread_evenly_and_renew_every_period() -> None:
    clock = FakeClock()
    times: dict[str, list[float]] = {}

    async def job(key: str) -> None:
        times.setdefault(key, []).append(clock.monotonic())

    s: Spread[str] = Spread(job, period=10.0, clock=clock, jitter=0.04, rng=random.Random(1))
    for i in range(1000):
        s.add(f"n{i}", f"n{i}")
    task = asyncio.create_task(s.run())
    per_second = []
    for _ in range(60):
        before = sum(len(v) for v in times.values())
        for _ in range(10):
            clock.advance(0.1)
            await spin()
        per_second.append(sum(len(v) for v in times.values()) - before)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # 1,000 nodes every 10 s: about 100 a second, never a burst
    assert all(70 <= n <= 130 for n in per_second[1:]), per_second
    gaps = [b - a for v in times.values() for a, b in itertools.pairwise(v)]
    assert all(9.5 <= g <= 10.5 for g in gaps)
    assert len(times) == 1000 and s.runs == sum(len(v) for v in times.values())


async def test_slow_job_skips_its_turn_and_failures_are_counted() -> None:
    clock = FakeClock()
    gate = asyncio.Event()
    calls = []

    async def job(key: str) -> None:
        calls.append(key)
        if key == "slow":
            await gate.wait()
        if key == "bad":
            raise RuntimeError("boom")

    s: Spread[str] = Spread(job, period=1.0, clock=clock)
    s.add("slow", "slow", first_in=0)
    s.add("bad", "bad", first_in=0)
    task = asyncio.create_task(s.run())
    for _ in range(30):
        clock.advance(0.1)
        await spin()
    assert calls.count("slow") == 1 and s.skipped >= 2
    assert s.failures >= 2 and "bad" in s
    s.remove("bad")
    n = calls.count("bad")
    for _ in range(30):
        clock.advance(0.1)
        await spin()
    assert calls.count("bad") == n
    gate.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
