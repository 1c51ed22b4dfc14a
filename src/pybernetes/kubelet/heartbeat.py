"""One loop that runs a periodic job for many nodes, their turns spread evenly over the period.

5,000 simulated nodes renewing Leases every 10 s must not become 5,000 requests every 10 s in one burst: each
node gets a phase in the period from a low-discrepancy sequence (so any number of nodes, added at any time, are
spread evenly), and each next turn is one period later with a little jitter (±4 %, as upstream's lease
controller uses ``wait.JitterUntil``) so phases do not lock together. At most ``concurrency`` jobs run at once;
a node whose previous job is still running skips its turn instead of piling up, and a loop that fell behind
reschedules from now rather than firing a backlog.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pybernetes.client.clock import REAL, Clock

log = logging.getLogger(__name__)
T = TypeVar("T")
GOLDEN = 0.6180339887498949
TICK = 0.02                            # never wake more often than this; due jobs are batched


class Spread(Generic[T]):
    def __init__(self, job: Callable[[T], Awaitable[None]], *, period: float, clock: Clock = REAL,
                 concurrency: int = 64, jitter: float = 0.04, rng: random.Random | None = None,
                 name: str = "spread") -> None:
        self.job = job
        self.period = period
        self.clock = clock
        self.jitter = jitter
        self.name = name
        self.rng = rng or random.Random()
        self._sem = asyncio.Semaphore(concurrency)
        self._items: dict[str, T] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._slots = itertools.count()
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.runs = 0
        self.failures = 0
        self.skipped = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def phase(self) -> float:
        """The next item's offset into the period (golden-ratio sequence: evenly spread for any count)."""
        return (next(self._slots) * GOLDEN) % 1.0 * self.period

    def add(self, key: str, item: T, *, first_in: float | None = None) -> None:
        """Run ``job(item)`` every period; the first time after ``first_in`` seconds (default: its phase)."""
        self._items[key] = item
        delay = self.phase() if first_in is None else first_in
        heapq.heappush(self._heap, (self.clock.monotonic() + delay, next(self._seq), key))
        self._wake.set()

    def remove(self, key: str) -> None:
        self._items.pop(key, None)

    def _next_due(self, due: float, now: float) -> float:
        nxt = due + self.period * (1.0 + self.rng.uniform(-self.jitter, self.jitter))
        return nxt if nxt > now else now + self.period * self.rng.uniform(0.5, 1.0)

    async def _one(self, key: str, item: T) -> None:
        try:
            async with self._sem:
                await self.job(item)
            self.runs += 1
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.failures += 1
            # an API outage fails every node's job: say so once per hundred, not 500 times a second
            level = logging.WARNING if self.failures % 100 == 1 else logging.DEBUG
            log.log(level, "periodic job failed", extra={"loop": self.name, "key": key, "error": repr(e),
                                                         "failures": self.failures})
        finally:
            self._in_flight.discard(key)

    def fire_due(self) -> float | None:
        """Start every job whose turn has come; the seconds until the next turn (None if nothing is scheduled)."""
        now = self.clock.monotonic()
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            item = self._items.get(key)
            if item is None:
                continue
            heapq.heappush(self._heap, (self._next_due(due, now), next(self._seq), key))
            if key in self._in_flight:
                self.skipped += 1
                continue
            self._in_flight.add(key)
            t = asyncio.get_running_loop().create_task(self._one(key, item), name=f"{self.name}-{key}")
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
        return self._heap[0][0] - now if self._heap else None

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                delay = self.fire_due()
                sleeper = asyncio.ensure_future(self.clock.sleep(max(delay, TICK) if delay is not None else 3600))
                waker = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    waker.cancel()
        finally:
            for t in list(self._tasks):
                t.cancel()
