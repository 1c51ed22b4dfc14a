"""WatchCache over an in-memory store: initial events, replay from a revision, 410 TooOld once history is gone,
selector transitions, history and slow-watcher overflow, consistent reads (sync/wait_for), re-list after the store
watch fails, and in-process listeners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from pybernetes.storage import watchcache as wc
from pybernetes.storage.watchcache import CachedEvent, TooOld, WatchCache, Watcher, storage_of

try:
    from tests.unit.storage.memstore import MemStore
except ModuleNotFoundError:  # pytest's default (prepend) import mode
    from memstore import MemStore  # type: ignore[no-redef]

PODS = "core/pods"


def pod(name: str, ns: str = "ns", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels}}


def key(name: str, ns: str = "ns") -> str:
    return f"/registry/core/pods/{ns}/{name}"


async def put(store: MemStore, obj: dict[str, Any]) -> int:
    k = key(obj["metadata"]["name"], obj["metadata"]["namespace"])
    cur = await store.get(k)
    if cur is None:
        return (await store.create(k, orjson.dumps(obj))).mod_revision
    return (await store.update(k, orjson.dumps(obj), expect_mod_revision=cur.mod_revision)).mod_revision


async def remove(store: MemStore, name: str, ns: str = "ns") -> int:
    return (await store.delete(key(name, ns))).mod_revision


def app_is(value: str) -> wc.Filter:
    return lambda o: (o["metadata"].get("labels") or {}).get("app") == value


async def drain(w: Watcher) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of everything queued for ``w`` right now (events are queued synchronously
    as the cache applies them, so after ``sync()`` there is nothing to wait for)."""
    batch = await w.next_batch(timeout=0)
    return [(e.type, e.obj["metadata"]["name"], e.obj["metadata"]["resourceVersion"]) for e in batch or []]


@pytest.fixture
def store() -> MemStore:
    return MemStore()


@pytest.fixture
async def cache(store: MemStore) -> AsyncIterator[WatchCache]:
    c = WatchCache(store)
    await c.start()
    yield c
    await c.close()


@pytest.mark.parametrize(("k", "want"), [
    ("/registry/core/pods/ns/x", "core/pods"), ("/registry/apps/deployments/ns/x", "apps/deployments"),
    ("/registry/core/nodes/n", "core/nodes"), ("/registry/x", ""),
])
def test_storage_of(k: str, want: str) -> None:
    assert storage_of(k) == want


async def test_start_loads_existing_objects_with_resource_versions(store: MemStore) -> None:
    rv_a = await put(store, pod("a"))
    rv_b = await put(store, pod("b", "other"))
    c = WatchCache(store)
    await c.start()
    try:
        assert c.ready.is_set() and c.revision == rv_b
        objs = c.resource(PODS).objects
        assert objs[key("a")]["metadata"]["resourceVersion"] == str(rv_a)
        assert [o["metadata"]["name"] for o in c.resource(PODS).items("/registry/core/pods/")] == ["a", "b"]
        assert [o["metadata"]["name"] for o in c.resource(PODS).items("/registry/core/pods/other/")] == ["b"]
    finally:
        await c.close()


async def test_initial_events_then_live(store: MemStore, cache: WatchCache) -> None:
    await put(store, pod("b", app="web"))
    await put(store, pod("a", app="web"))
    await put(store, pod("c", app="db"))
    await put(store, pod("z", "other", app="web"))
    await cache.sync()
    w = cache.watch(PODS, "/registry/core/pods/ns/", from_rv=None, filt=app_is("web"))
    assert [(t, n) for t, n, _ in await drain(w)] == [("ADDED", "a"), ("ADDED", "b")]    # key order, filtered
    rv = await put(store, pod("d", app="web"))
    await put(store, pod("e", "other", app="web"))                                         # other prefix
    await cache.sync()
    assert await drain(w) == [("ADDED", "d", str(rv))]
    w.close()


async def test_replay_from_a_revision(store: MemStore, cache: WatchCache) -> None:
    r1 = await put(store, pod("a"))
    r2 = await put(store, pod("a", v="2"))
    r3 = await put(store, pod("b"))
    r4 = await remove(store, "a")
    await cache.sync()
    w = cache.watch(PODS, "/registry/core/pods/", from_rv=r1, filt=None)
    assert await drain(w) == [("MODIFIED", "a", str(r2)), ("ADDED", "b", str(r3)), ("DELETED", "a", str(r4))]
    w2 = cache.watch(PODS, "/registry/core/pods/", from_rv=r4, filt=None)
    assert await drain(w2) == []                                                 # nothing after the latest
    r5 = await put(store, pod("c"))
    await cache.sync()
    assert await drain(w2) == [("ADDED", "c", str(r5))]


async def test_history_overflow_makes_old_revisions_too_old(store: MemStore, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setattr(wc, "HISTORY", 3)
    cache = WatchCache(store)
    await cache.start()
    try:
        revs = [await put(store, pod("a", n=str(i))) for i in range(5)]
        await cache.sync()
        rc = cache.resource(PODS)
        assert [e.rv for e in rc.history] == revs[2:]
        assert rc.oldest == revs[1]
        # from revs[1]: every later event is still in history
        w = cache.watch(PODS, "/registry/core/pods/", from_rv=revs[1], filt=None)
        assert [rv for _, _, rv in await drain(w)] == [str(r) for r in revs[2:]]
        with pytest.raises(TooOld) as ei:
            cache.watch(PODS, "/registry/core/pods/", from_rv=revs[0], filt=None)
        assert (ei.value.requested, ei.value.oldest) == (revs[0], revs[1])
        assert str(ei.value) == f"too old resource version: {revs[0]} ({revs[1]})"
    finally:
        await cache.close()


async def test_revisions_before_the_cache_started_are_too_old(store: MemStore) -> None:
    r1 = await put(store, pod("a"))
    r2 = await put(store, pod("b"))
    cache = WatchCache(store)
    await cache.start()
    try:
        with pytest.raises(TooOld):
            cache.watch(PODS, "/registry/core/pods/", from_rv=r1, filt=None)
        assert await drain(cache.watch(PODS, "/registry/core/pods/", from_rv=r2, filt=None)) == []
    finally:
        await cache.close()


async def test_selector_transitions(store: MemStore, cache: WatchCache) -> None:
    await put(store, pod("p", app="db"))
    await cache.sync()
    w = cache.watch(PODS, "/registry/core/pods/", from_rv=None, filt=app_is("web"))
    assert await drain(w) == []
    r_in = await put(store, pod("p", app="web"))                 # enters the selection → ADDED
    r_stay = await put(store, pod("p", app="web", x="1"))        # stays → MODIFIED
    r_out = await put(store, pod("p", app="db"))                 # leaves → DELETED
    await put(store, pod("p", app="db", x="2"))                  # outside, stays outside → nothing
    r_back = await put(store, pod("p", app="web"))
    r_del = await remove(store, "p")                             # deleted while selected → DELETED
    await put(store, pod("q", app="db"))
    await remove(store, "q")                                     # never selected → nothing
    await cache.sync()
    batch = await w.next_batch(timeout=1.0)
    assert batch is not None
    assert [(e.type, e.obj["metadata"]["resourceVersion"]) for e in batch] == [
        ("ADDED", str(r_in)), ("MODIFIED", str(r_stay)), ("DELETED", str(r_out)), ("ADDED", str(r_back)),
        ("DELETED", str(r_del))]
    # leaving the selection: the previous state (still matching) at the event's resourceVersion, as upstream
    left = batch[2].obj
    assert left["metadata"]["labels"] == {"app": "web", "x": "1"}
    # the stored object is not touched by that view
    assert batch[1].obj["metadata"]["resourceVersion"] == str(r_stay)


async def test_transitions_are_shared_between_watchers(store: MemStore, cache: WatchCache) -> None:
    w1 = cache.watch(PODS, "/registry/core/pods/", from_rv=None, filt=app_is("web"))
    w2 = cache.watch(PODS, "/registry/core/pods/", from_rv=None, filt=app_is("web"))
    w3 = cache.watch(PODS, "/registry/core/pods/", from_rv=None, filt=None)
    await put(store, pod("p"))
    await put(store, pod("p", app="web"))
    await cache.sync()
    (e1,), (e2,), e3 = (await w1.next_batch(1.0)), (await w2.next_batch(1.0)), (await w3.next_batch(1.0))
    assert e1 is e2 and e1.type == "ADDED"                       # one retyped event, encoded once for all
    assert [e.type for e in e3 or []] == ["ADDED", "MODIFIED"]


async def test_slow_watcher_is_dropped_when_its_buffer_overflows(store: MemStore, cache: WatchCache,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wc, "WATCHER_BUFFER", 3)
    slow = cache.watch(PODS, "/registry/core/pods/", from_rv=None, filt=None)
    fast = cache.watch(PODS, "/registry/core/pods/", from_rv=None, filt=None)
    for i in range(5):
        await put(store, pod(f"p{i}"))
        await cache.sync()
        assert len(await drain(fast)) == 1
    assert slow.closed and slow.error == "watcher buffer overflow"
    assert slow not in cache.resource(PODS).watchers and fast in cache.resource(PODS).watchers
    assert len(await drain(slow)) == 3                                   # what it had queued, then the end
    assert await slow.next_batch(timeout=1.0) is None


async def test_next_batch_times_out_empty_and_close_ends_it(cache: WatchCache) -> None:
    w = cache.watch(PODS, "/registry/core/pods/", from_rv=None, filt=None)
    assert await w.next_batch(timeout=0.01) == []
    waiter = asyncio.ensure_future(w.next_batch())
    await asyncio.sleep(0)
    w.close()
    assert await asyncio.wait_for(waiter, 1.0) is None
    assert w not in cache.resource(PODS).watchers


async def test_sync_and_wait_for(store: MemStore, cache: WatchCache) -> None:
    rev = await put(store, pod("a"))
    assert await cache.sync() == rev                      # every acknowledged write is visible after sync
    assert key("a") in cache.resource(PODS).objects
    await cache.wait_for(rev)                             # already there: returns at once
    pending = asyncio.ensure_future(cache.wait_for(rev + 1, timeout=5.0))
    await asyncio.sleep(0)
    assert not pending.done()
    await put(store, pod("b"))
    await asyncio.wait_for(pending, 1.0)
    with pytest.raises(TimeoutError):
        await cache.wait_for(rev + 100, timeout=0.01)


async def test_listeners_see_every_event(store: MemStore, cache: WatchCache) -> None:
    seen: list[tuple[str, str]] = []

    def broken(ev: CachedEvent) -> None:
        raise RuntimeError("a listener bug must not stop the cache")

    cache.listeners += [broken, lambda ev: seen.append((ev.type, ev.key))]
    await put(store, pod("a"))
    await put(store, pod("a", x="1"))
    await remove(store, "a")
    await cache.sync()
    assert seen == [("ADDED", key("a")), ("MODIFIED", key("a")), ("DELETED", key("a"))]


async def test_relist_after_the_store_watch_fails(store: MemStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost/compacted store watch: the cache re-lists and turns the differences into events for watchers
    and listeners (objects that vanished meanwhile are DELETED at the list's revision)."""
    monkeypatch.setattr(wc, "RESTART_DELAY", 0)
    await put(store, pod("keep"))
    await put(store, pod("change"))
    await put(store, pod("vanish"))
    cache = WatchCache(store)
    await cache.start()
    try:
        w = cache.watch(PODS, "/registry/core/pods/", from_rv=None, filt=None)
        await drain(w)
        seen: list[tuple[str, str]] = []
        cache.listeners.append(lambda ev: seen.append((ev.type, ev.obj["metadata"]["name"])))
        # Writes the cache never sees as events: the store watch breaks first (MemStore never suspends, so the
        # cache task cannot run between these lines) and the queued events go with it; only a re-list finds them.
        for _ in range(100):
            if store.watchers:
                break
            await asyncio.sleep(0)                      # let the cache open its store watch
        assert store.watchers == 1
        store.break_watches()
        await put(store, pod("change", x="1"))
        r_del = await remove(store, "vanish")
        rev = await put(store, pod("new"))
        await asyncio.wait_for(cache.wait_for(rev), 2.0)
        got = await drain(w)
        assert sorted(got) == sorted([("ADDED", "new", str(rev)), ("DELETED", "vanish", str(rev)),
                                      ("MODIFIED", "change", str(rev - 2))])
        assert str(r_del) not in {rv for _, _, rv in got}       # the delete itself was never seen
        assert sorted(seen) == sorted((t, n) for t, n, _ in got)
        assert set(cache.resource(PODS).objects) == {key("keep"), key("change"), key("new")}
        # and the cache follows the store again afterwards
        rev = await put(store, pod("later"))
        await asyncio.wait_for(cache.wait_for(rev), 2.0)
        assert await drain(w) == [("ADDED", "later", str(rev))]
    finally:
        await cache.close()
