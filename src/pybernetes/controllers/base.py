"""The shape every controller has (STYLE.md §3): informer handlers enqueue keys; workers call ``reconcile(key)``,
which re-reads everything from the informer caches, so missed, repeated or reordered events do not matter.

Success → ``forget`` (reset the key's backoff); an exception → ``add_rate_limited``; always ``done``. A
reconcile may ask to be called again later by returning a number of seconds (requeue after). An expected
condition that only time can fix raises :class:`RetryLater`: one log line, no traceback.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pybernetes.client.clock import REAL, Clock
from pybernetes.client.events import EventRecorder
from pybernetes.client.informers import InformerFactory
from pybernetes.client.rest import Client
from pybernetes.client.workqueue import WorkQueue

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class RetryLater(Exception):
    """A reconcile that cannot succeed yet for a known reason (its message says which); retried with backoff."""


@dataclass
class ControllerContext:
    """What the controller manager gives each controller."""
    client: Client
    informers: InformerFactory
    recorder: EventRecorder
    clock: Clock = REAL
    options: dict[str, Any] = field(default_factory=dict)


class Controller:
    name: ClassVar[str] = "controller"
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.clock = ctx.clock
        self.queue = WorkQueue(clock=ctx.clock, name=self.name)

    async def reconcile(self, key: str) -> float | None:
        """Bring the world in line with the object at ``key``; raise to retry with backoff; return seconds to be
        called again after (e.g. for time-based conditions)."""
        raise NotImplementedError

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    async def run_worker(self) -> None:
        while (key := await self.queue.get()) is not None:
            try:
                after = await self.reconcile(str(key))
                self.queue.forget(key)
                if after is not None and after >= 0:
                    self.queue.add_after(key, after)
            except asyncio.CancelledError:
                raise
            except RetryLater as e:
                log.warning("reconcile must wait: %s", e, extra={"controller": self.name, "key": key})
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("reconcile failed", extra={"controller": self.name, "key": key})
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for i in range(self.workers):
                tg.create_task(self.run_worker(), name=f"{self.name}-worker-{i}")
            extra = self.background()
            if extra is not None:
                tg.create_task(extra, name=f"{self.name}-background")

    def background(self) -> Any:
        """An optional coroutine run beside the workers (periodic resyncs, monitors)."""
        return None
