"""Injected time (STYLE.md "Time is injected"): queues, controllers, leases and TTLs take a :class:`Clock`, so
tests can use :class:`FakeClock` and jump instead of sleeping."""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime.datetime: ...
    def monotonic(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to; sleepers wake when :meth:`advance` passes their deadline."""

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self._t = 0.0
        self._start = start or datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime.datetime:
        return self._start + datetime.timedelta(seconds=self._t)

    def monotonic(self) -> float:
        return self._t

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + seconds, next(self._seq), fut))
        await fut

    def advance(self, seconds: float) -> None:
        self._t += seconds
        while self._sleepers and self._sleepers[0][0] <= self._t:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())


REAL = RealClock()
