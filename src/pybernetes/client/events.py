"""Recording core/v1 Events about objects, for ``kubectl describe`` and ``kubectl get events``.

As client-go's event recorder: writes are asynchronous (never block a reconcile), repeated events about the
same object with the same reason and message are folded into one Event whose ``count`` and ``lastTimestamp``
grow (upstream's EventCorrelator), and a full queue drops events rather than slowing the component.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pybernetes.api.meta import format_rfc3339
from pybernetes.client.clock import REAL, Clock
from pybernetes.client.resources import EVENTS
from pybernetes.client.rest import APIStatusError, Client

log = logging.getLogger(__name__)
Obj = dict[str, Any]
FOLD_WINDOW = 600.0
QUEUE_SIZE = 10_000
WRITERS = 4             # concurrent event writes: a scheduling burst of thousands of Scheduled events keeps up
# Upstream's EventSourceObjectSpamFilter: per source and involved object, a burst of 25 events, then one per 5
# minutes (a 1000-replica ReplicaSet records ~25 "Created pod" events, not 1000 writes).
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0


def object_reference(obj: Obj, *, field_path: str = "") -> Obj:
    meta = obj.get("metadata") or {}
    ref: Obj = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    ref["name"] = meta.get("name", "")
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    def __init__(self, client: Client, *, component: str, host: str = "", clock: Clock = REAL) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        self._queue: asyncio.Queue[tuple[Obj, str, str, str, str, str, str]] = asyncio.Queue(QUEUE_SIZE)
        # upstream's event key (involved object, type, reason, message, source) → (name, first, count, when)
        self._seen: dict[tuple[str, ...], tuple[str, str, int, float]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._dropped = 0
        self._spam: dict[tuple[str, ...], tuple[float, float]] = {}

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "",
              component: str | None = None, host: str | None = None) -> None:
        """Record an event (Normal | Warning) about ``obj``; returns at once. ``component`` overrides the source
        (upstream controllers each report as their own, e.g. ``deployment-controller``), ``host`` its host (one
        recorder serves every node of an agent)."""
        if not self._allow(obj, component or self.component):
            return
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._run(), name=f"events-{self.component}-{i}") for i in range(WRITERS)]
        try:
            self._queue.put_nowait((obj, type_, reason, message[:1024], field_path, component or self.component,
                                    self.host if host is None else host))
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped % 1000 == 1:      # a burst must not also become a burst of log lines
                log.warning("events dropped: queue full", extra={"component": self.component,
                                                                  "dropped": self._dropped})

    def _allow(self, obj: Obj, component: str) -> bool:
        """The spam filter's token bucket for (component, involved object)."""
        meta = obj.get("metadata") or {}
        key = (component, obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""))
        now = self.clock.monotonic()
        tokens, last = self._spam.get(key, (float(SPAM_BURST), now))
        tokens = min(float(SPAM_BURST), tokens + (now - last) * SPAM_QPS)
        if len(self._spam) > 4096:
            self._spam.clear()
        if tokens < 1:
            self._spam[key] = (tokens, now)
            return False
        self._spam[key] = (tokens - 1, now)
        return True

    async def _run(self) -> None:
        while True:
            obj, type_, reason, message, field_path, component, host = await self._queue.get()
            try:
                await self._write(obj, type_, reason, message, field_path, component, host)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("event write failed", extra={"reason": reason, "error": repr(e)})

    async def _write(self, obj: Obj, type_: str, reason: str, message: str, field_path: str,
                     component: str, host: str = "") -> None:
        ref = object_reference(obj, field_path=field_path)
        ns = ref.get("namespace") or "default"
        key = (str(ref.get("kind", "")), ns, str(ref["name"]), str(ref.get("uid", "")), type_, reason, message,
               field_path, component)
        now = format_rfc3339(self.clock.now())
        seen = self._seen.get(key)
        if seen and self.clock.monotonic() - seen[3] < FOLD_WINDOW:
            name, first, count, _ = seen
            try:
                await self.client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": now}, ns)
                self._seen[key] = (name, first, count + 1, self.clock.monotonic())
                return
            except APIStatusError:
                pass
        name = f"{ref['name']}.{time.time_ns():x}"
        ev: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": ref, "reason": reason, "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": type_,
            "eventTime": None, "reportingComponent": component,
            "reportingInstance": host or component,
        }
        await self.client.create(EVENTS, ev, ns)
        if len(self._seen) > 5000:
            self._seen.clear()
        self._seen[key] = (name, now, 1, self.clock.monotonic())

    def for_component(self, component: str) -> ComponentRecorder:
        """This recorder (one queue, one writer) reporting as ``component``."""
        return ComponentRecorder(self, component)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass


class ComponentRecorder:
    """An :class:`EventRecorder` view with its own source component."""

    def __init__(self, parent: EventRecorder, component: str) -> None:
        self.parent = parent
        self.component = component

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        self.parent.event(obj, type_, reason, message, field_path=field_path, component=self.component)

    def for_component(self, component: str) -> ComponentRecorder:
        return ComponentRecorder(self.parent, component)
