"""A watcher's sink: live events written straight to the client, in order with whatever is queued."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pybernetes.storage.watchcache import CachedEvent, ResourceCache, Watcher


def event(n: int) -> CachedEvent:
    obj: dict[str, Any] = {"metadata": {"name": f"p{n}", "namespace": "ns", "resourceVersion": str(n)}}
    return CachedEvent("MODIFIED", f"/registry/core/pods/ns/p{n}", obj, obj, n)


class Sink:
    def __init__(self, *, accept: bool = True, fail: bool = False) -> None:
        self.accept = accept
        self.fail = fail
        self.got: list[int] = []

    def __call__(self, ev: CachedEvent) -> bool:
        if self.fail:
            raise RuntimeError("broken")
        if self.accept:
            self.got.append(ev.rv)
        return self.accept


def watcher() -> Watcher:
    rc = ResourceCache("core/pods", 0)
    w = Watcher(rc, "/registry/core/pods/", None)
    rc.watchers.add(w)
    return w


async def test_live_events_go_to_the_sink_and_not_the_queue() -> None:
    w = watcher()
    w.sink = sink = Sink()
    w.offer(event(1))
    w.offer(event(2))
    assert sink.got == [1, 2]
    assert await w.next_batch(timeout=0) == []


async def test_a_backed_up_sink_queues_and_later_events_keep_their_order() -> None:
    w = watcher()
    w.sink = sink = Sink(accept=False)
    w.offer(event(1))
    sink.accept = True
    w.offer(event(2))                       # something is queued: it must wait behind event 1
    assert sink.got == []
    assert [e.rv for e in await w.next_batch(timeout=0) or []] == [1, 2]
    w.offer(event(3))                       # queue drained: straight to the sink again
    assert sink.got == [3]


async def test_a_failing_sink_is_dropped_and_events_are_queued() -> None:
    w = watcher()
    w.sink = Sink(fail=True)
    w.offer(event(1))
    assert w.sink is None
    assert [e.rv for e in await w.next_batch(timeout=0) or []] == [1]


async def test_filtered_out_events_never_reach_the_sink() -> None:
    rc = ResourceCache("core/pods", 0)
    w = Watcher(rc, "/registry/core/pods/other/", None)
    w.sink = sink = Sink()
    w.offer(event(1))
    assert sink.got == []


@pytest.mark.parametrize("timeout", [0.0, 0.01])
async def test_next_batch_times_out_empty(timeout: float) -> None:
    assert await watcher().next_batch(timeout=timeout) == []


async def test_next_batch_wakes_on_offer_and_on_close() -> None:
    w = watcher()
    waiting = asyncio.ensure_future(w.next_batch(timeout=5))
    await asyncio.sleep(0)
    w.offer(event(7))
    assert [e.rv for e in await waiting or []] == [7]
    waiting = asyncio.ensure_future(w.next_batch())
    await asyncio.sleep(0)
    w.close()
    assert await waiting is None
