"""A rate-limited work queue with client-go's contract (STYLE.md §3, client-go ``util/workqueue``).

- *Stingy*: a key added several times before it is processed is processed once.
- *Exclusive*: a key is never handed to two workers at once; if it is added while being processed it is
  re-queued when :meth:`done` is called.
- *Rate limited*: :meth:`add_rate_limited` delays a key by max(per-key exponential backoff 5 ms → 1000 s, an
  overall token bucket of 10 qps / 100 burst); :meth:`forget` resets the key's backoff.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Hashable

from pybernetes.client.clock import REAL, Clock


class RateLimiter:
    def __init__(self, *, base: float = 0.005, cap: float = 1000.0, qps: float = 10.0, burst: int = 100,
                 clock: Clock = REAL) -> None:
        self.base, self.cap = base, cap
        self.qps, self.burst = qps, burst
        self.clock = clock
        self._failures: dict[Hashable, int] = collections.defaultdict(int)
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def when(self, key: Hashable) -> float:
        n = self._failures[key]
        self._failures[key] = n + 1
        backoff = min(self.base * float(2 ** n), self.cap)
        now = self.clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1
        bucket = 0.0 if self._tokens >= 0 else -self._tokens / self.qps
        return max(backoff, bucket)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def retries(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class WorkQueue:
    def __init__(self, *, clock: Clock = REAL, limiter: RateLimiter | None = None, name: str = "") -> None:
        self.name = name
        self.clock = clock
        self.limiter = limiter or RateLimiter(clock=clock)
        self._queue: collections.deque[Hashable] = collections.deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._waiting: dict[Hashable, tuple[float, asyncio.Task[None]]] = {}   # key → (deadline, timer)
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: Hashable) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._notify()

    def _notify(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def add_after(self, key: Hashable, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed on the queue's clock. A key already waiting keeps the
        earlier of its two deadlines (client-go's delaying queue: "only update if it would be sooner")."""
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        deadline = self.clock.monotonic() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= deadline:
                return
            pending[1].cancel()

        async def later() -> None:
            try:
                # Sleep until the deadline fixed at the call, not for `delay` from when this task first runs.
                await self.clock.sleep(deadline - self.clock.monotonic())
            except asyncio.CancelledError:
                if self._waiting.get(key, (0.0, None))[1] is timer:
                    del self._waiting[key]
                raise
            if self._waiting.get(key, (0.0, None))[1] is timer:
                del self._waiting[key]
            self.add(key)

        timer = asyncio.get_running_loop().create_task(later())
        self._waiting[key] = (deadline, timer)

    def add_rate_limited(self, key: Hashable) -> None:
        self.add_after(key, self.limiter.when(key))

    def forget(self, key: Hashable) -> None:
        self.limiter.forget(key)

    def retries(self, key: Hashable) -> int:
        return self.limiter.retries(key)

    async def get(self) -> Hashable | None:
        """The next key to process, or None once shut down."""
        while not self._queue and not self._shutdown:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._notify()            # pass the wake-up on to another worker
                raise
        if not self._queue:
            return None
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    async def shutdown(self) -> None:
        self._shutdown = True
        for _, t in list(self._waiting.values()):
            t.cancel()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
