"""Behaviour every :class:`~pybernetes.storage.interface.Store` must have (etcd v3 semantics).

Not collected by itself: a backend's test module subclasses :class:`StoreConformance` in a ``Test*`` class and
overrides the ``store`` fixture with an open, empty store of its kind (closed after the test)::

    class TestSQLiteConformance(StoreConformance):
        @pytest.fixture
        async def store(self, tmp_path): ...

Revisions are checked relative to the store's revision at the start of a test (etcd starts at 1 with no write,
SQLite at 0), never as absolute numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest

from pybernetes.storage.interface import (
    KV,
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    Store,
)

WAIT = 10.0   # seconds: a broken watch fails the test instead of hanging it


async def take(events: AsyncIterator[Event], n: int) -> list[Event]:
    """The next ``n`` events, or fail after WAIT seconds."""
    out: list[Event] = []
    async with asyncio.timeout(WAIT):
        while len(out) < n:
            out.append(await anext(events))
    return out


async def take_until(events: AsyncIterator[Event], revision: int) -> list[Event]:
    """Events up to and including ``revision``."""
    out: list[Event] = []
    async with asyncio.timeout(WAIT):
        async for ev in events:
            out.append(ev)
            if ev.kv.mod_revision >= revision:
                break
    return out


class StoreConformance:
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        raise NotImplementedError("a backend's test class provides an open, empty store")
        yield  # pragma: no cover

    # ------------------------------------------------------------------ create / get

    async def test_create_assigns_next_revision(self, store: Store) -> None:
        base = await store.current_revision()
        a = await store.create("/t/a", b"1")
        b = await store.create("/t/b", b"2")
        assert a == KV("/t/a", b"1", base + 1, base + 1)
        assert b == KV("/t/b", b"2", base + 2, base + 2)
        assert await store.current_revision() == base + 2

    async def test_create_existing_key_fails_without_a_revision(self, store: Store) -> None:
        await store.create("/t/a", b"1")
        rev = await store.current_revision()
        with pytest.raises(KeyExists):
            await store.create("/t/a", b"2")
        assert await store.current_revision() == rev
        assert (await store.get("/t/a")) == KV("/t/a", b"1", rev, rev)

    @pytest.mark.parametrize("value", [b"", b"\x00\xff binary", b"{}" * 5000])
    async def test_values_round_trip_as_bytes(self, store: Store, value: bytes) -> None:
        kv = await store.create("/t/v", value)
        got = await store.get("/t/v")
        assert got == kv and type(got.value) is bytes and got.value == value

    async def test_get_missing_is_none(self, store: Store) -> None:
        assert await store.get("/t/nothing") is None

    async def test_get_at_older_revisions(self, store: Store) -> None:
        base = await store.current_revision()
        await store.create("/t/other", b"x")                             # base+1: /t/k absent
        v1 = await store.create("/t/k", b"v1")                           # base+2
        v2 = await store.update("/t/k", b"v2", expect_mod_revision=v1.mod_revision)   # base+3
        gone = await store.delete("/t/k")                                 # base+4
        again = await store.create("/t/k", b"v3")                        # base+5
        assert await store.get("/t/k", revision=base + 1) is None
        assert await store.get("/t/k", revision=base + 2) == v1
        assert await store.get("/t/k", revision=base + 3) == v2
        assert await store.get("/t/k", revision=gone.mod_revision) is None
        assert await store.get("/t/k", revision=again.mod_revision) == again
        assert again.create_revision == base + 5                         # a new life, a new create_revision

    async def test_get_and_list_at_future_revision(self, store: Store) -> None:
        kv = await store.create("/t/a", b"1")
        with pytest.raises(FutureRevision):
            await store.get("/t/a", revision=kv.mod_revision + 1)
        with pytest.raises(FutureRevision):
            await store.list("/t/", revision=kv.mod_revision + 1)

    # ------------------------------------------------------------------ update / delete (compare-and-swap)

    async def test_update_compare_and_swap(self, store: Store) -> None:
        v1 = await store.create("/t/a", b"1")
        v2 = await store.update("/t/a", b"2", expect_mod_revision=v1.mod_revision)
        assert v2 == KV("/t/a", b"2", v1.create_revision, v1.mod_revision + 1)
        with pytest.raises(RevisionMismatch) as err:
            await store.update("/t/a", b"3", expect_mod_revision=v1.mod_revision)
        assert err.value.current == v2
        assert await store.get("/t/a") == v2

    async def test_update_unconditional(self, store: Store) -> None:
        v1 = await store.create("/t/a", b"1")
        await store.update("/t/a", b"2", expect_mod_revision=0)
        v3 = await store.update("/t/a", b"3", expect_mod_revision=0)
        assert v3.value == b"3" and v3.create_revision == v1.create_revision

    async def test_update_missing_key(self, store: Store) -> None:
        rev = await store.current_revision()
        for expect in (0, 7):
            with pytest.raises(KeyNotFound):
                await store.update("/t/none", b"x", expect_mod_revision=expect)
        assert await store.current_revision() == rev

    async def test_delete_returns_last_value_at_delete_revision(self, store: Store) -> None:
        v1 = await store.create("/t/a", b"1")
        v2 = await store.update("/t/a", b"2", expect_mod_revision=0)
        gone = await store.delete("/t/a", expect_mod_revision=v2.mod_revision)
        assert gone == KV("/t/a", b"2", v1.create_revision, v2.mod_revision + 1)
        assert await store.get("/t/a") is None
        assert await store.current_revision() == gone.mod_revision

    async def test_delete_conflicts(self, store: Store) -> None:
        v1 = await store.create("/t/a", b"1")
        with pytest.raises(RevisionMismatch) as err:
            await store.delete("/t/a", expect_mod_revision=v1.mod_revision + 100)
        assert err.value.current == v1
        assert await store.get("/t/a") == v1
        with pytest.raises(KeyNotFound):
            await store.delete("/t/missing")

    async def test_concurrent_compare_and_swap_has_one_winner(self, store: Store) -> None:
        v1 = await store.create("/t/a", b"0")
        results = await asyncio.gather(
            *(store.update("/t/a", str(i).encode(), expect_mod_revision=v1.mod_revision) for i in range(20)),
            return_exceptions=True)
        winners = [r for r in results if isinstance(r, KV)]
        assert len(winners) == 1
        assert all(isinstance(r, RevisionMismatch) for r in results if not isinstance(r, KV))
        assert await store.get("/t/a") == winners[0]

    async def test_concurrent_creates_of_one_key_have_one_winner(self, store: Store) -> None:
        results = await asyncio.gather(*(store.create("/t/a", b"%d" % i) for i in range(10)),
                                       *(store.create(f"/t/other{i}", b"x") for i in range(10)),
                                       return_exceptions=True)
        assert sum(isinstance(r, KV) for r in results[:10]) == 1
        assert all(isinstance(r, KeyExists) for r in results[:10] if not isinstance(r, KV))
        assert all(isinstance(r, KV) for r in results[10:])          # a failed write does not fail its neighbours
        revs = sorted(r.mod_revision for r in results if isinstance(r, KV))
        assert revs == list(range(revs[0], revs[0] + 11))              # failures consume no revision

    async def test_reads_see_every_acknowledged_write(self, store: Store) -> None:
        assert await store.get("/t/a") is None and (await store.list("/t/"))[1] == []
        v1 = await store.create("/t/a", b"1")
        assert await store.get("/t/a") == v1 and (await store.list("/t/"))[1] == [v1]
        v2 = await store.update("/t/a", b"2", expect_mod_revision=v1.mod_revision)
        assert await store.get("/t/a") == v2 and (await store.list("/t/")) == (v2.mod_revision, [v2])
        gone = await store.delete("/t/a")
        assert await store.get("/t/a") is None and await store.count("/t/") == 0
        assert (await store.list("/t/"))[0] == gone.mod_revision

    # ------------------------------------------------------------------ list / count

    async def test_list_by_prefix_in_key_order(self, store: Store) -> None:
        for key in ("/registry/core/pods/ns/b", "/registry/core/pods/ns/a", "/registry/core/podsx/ns/a",
                    "/registry/core/pods/other/c", "/registry/core/pod"):
            await store.create(key, key.encode())
        rev, items = await store.list("/registry/core/pods/")
        assert rev == await store.current_revision()
        assert [kv.key for kv in items] == ["/registry/core/pods/ns/a", "/registry/core/pods/ns/b",
                                            "/registry/core/pods/other/c"]
        assert [kv.value for kv in items] == [kv.key.encode() for kv in items]
        assert await store.count("/registry/core/pods/") == 3
        assert await store.count("/registry/core/pods/ns/") == 2
        assert await store.count("/registry/core/nothing/") == 0
        assert [kv.key for kv in (await store.list(""))[1]] == sorted(
            ["/registry/core/pods/ns/b", "/registry/core/pods/ns/a", "/registry/core/podsx/ns/a",
             "/registry/core/pods/other/c", "/registry/core/pod"])

    async def test_list_skips_deleted_keys(self, store: Store) -> None:
        await store.create("/t/a", b"1")
        await store.create("/t/b", b"2")
        await store.delete("/t/a")
        assert [kv.key for kv in (await store.list("/t/"))[1]] == ["/t/b"]

    async def test_pagination_is_consistent_at_the_listing_revision(self, store: Store) -> None:
        originals = {f"/t/{i:02d}": await store.create(f"/t/{i:02d}", b"%d" % i) for i in range(10)}
        rev, page1 = await store.list("/t/", limit=4)
        assert [kv.key for kv in page1] == ["/t/00", "/t/01", "/t/02", "/t/03"]
        # writes between pages must not show in later pages listed at the first page's revision
        await store.create("/t/04a", b"new")
        await store.update("/t/05", b"changed", expect_mod_revision=0)
        await store.delete("/t/06")
        pages = [page1]
        while True:
            rev2, page = await store.list("/t/", revision=rev, start_after=pages[-1][-1].key, limit=4)
            assert rev2 == rev
            if not page:
                break
            pages.append(page)
        listed = [kv for page in pages for kv in page]
        assert listed == list(originals.values())
        assert [len(p) for p in pages] == [4, 4, 2]
        _, now = await store.list("/t/", start_after="/t/03", limit=3)
        assert [(kv.key, kv.value) for kv in now] == [("/t/04", b"4"), ("/t/04a", b"new"), ("/t/05", b"changed")]

    async def test_list_at_older_revision(self, store: Store) -> None:
        a = await store.create("/t/a", b"1")
        b = await store.create("/t/b", b"1")
        snapshot = await store.current_revision()
        await store.update("/t/a", b"2", expect_mod_revision=0)
        await store.delete("/t/b")
        await store.create("/t/c", b"1")
        rev, items = await store.list("/t/", revision=snapshot)
        assert rev == snapshot and items == [a, b]
        assert (await store.list("/t/", revision=snapshot, start_after="/t/a"))[1] == [b]

    # ------------------------------------------------------------------ watch

    async def test_watch_replays_then_follows_live(self, store: Store) -> None:
        base = await store.current_revision()
        v1 = await store.create("/t/a", b"1")
        v2 = await store.update("/t/a", b"2", expect_mod_revision=0)
        async with contextlib.aclosing(store.watch("/t/", from_revision=base)) as events:
            replayed = await take(events, 2)
            assert replayed == [Event("PUT", v1, None), Event("PUT", v2, v1)]
            gone = await store.delete("/t/a")
            b = await store.create("/t/b", b"b")
            live = await take(events, 2)
            assert live == [Event("DELETE", gone, v2), Event("PUT", b, None)]
            assert live[0].kv == KV("/t/a", b"2", v1.create_revision, gone.mod_revision)

    async def test_watch_from_revision_is_exclusive(self, store: Store) -> None:
        v1 = await store.create("/t/a", b"1")
        v2 = await store.update("/t/a", b"2", expect_mod_revision=0)
        async with contextlib.aclosing(store.watch("/t/", from_revision=v1.mod_revision)) as events:
            assert await take(events, 1) == [Event("PUT", v2, v1)]

    async def test_watch_filters_by_raw_prefix(self, store: Store) -> None:
        base = await store.current_revision()
        await store.create("/registry/core/podsx/a", b"no")
        mine = await store.create("/registry/core/pods/a", b"yes")
        await store.create("/registry/core/pod", b"no")
        async with contextlib.aclosing(store.watch("/registry/core/pods/", from_revision=base)) as events:
            assert [ev.kv for ev in await take(events, 1)] == [mine]
            await store.create("/registry/core/podsx/b", b"no")
            live = await store.create("/registry/core/pods/b", b"yes")
            assert [ev.kv for ev in await take(events, 1)] == [live]

    async def test_watch_has_no_gap_and_no_duplicate_while_writes_race(self, store: Store) -> None:
        """Start watching while writers run: the replay/live hand-over must neither lose nor repeat an event."""
        base = await store.current_revision()

        async def writer(n: int) -> list[int]:
            revs = []
            for i in range(40):
                kv = await store.create(f"/t/{n}/{i}", b"x")
                revs.append(kv.mod_revision)
                if i % 3 == 0:
                    revs.append((await store.update(kv.key, b"y", expect_mod_revision=kv.mod_revision)).mod_revision)
            return revs

        writers = [asyncio.create_task(writer(n)) for n in range(8)]
        for _ in range(5):
            await asyncio.sleep(0)
        async with contextlib.aclosing(store.watch("/t/", from_revision=base)) as events:
            written = sorted(r for revs in await asyncio.gather(*writers) for r in revs)
            got = await take_until(events, written[-1])
        revs = [ev.kv.mod_revision for ev in got]
        assert revs == written

    async def test_watch_from_future_revision_waits(self, store: Store) -> None:
        rev = await store.current_revision()
        async with contextlib.aclosing(store.watch("/t/", from_revision=rev + 2)) as events:
            await store.create("/t/a", b"1")
            await store.create("/t/b", b"1")
            c = await store.create("/t/c", b"1")
            assert [ev.kv for ev in await take(events, 1)] == [c]

    async def test_many_watchers_see_the_same_stream(self, store: Store) -> None:
        base = await store.current_revision()
        watches = [store.watch("/t/", from_revision=base) for _ in range(5)]
        try:
            written = [await store.create(f"/t/{i}", b"x") for i in range(20)]
            for events in watches:
                assert [ev.kv for ev in await take(events, 20)] == written
        finally:
            for events in watches:
                await events.aclose()  # type: ignore[attr-defined]

    async def test_watch_ends_when_store_closes(self, store: Store) -> None:
        rev = await store.current_revision()
        async def drain() -> list[Event]:
            return [ev async for ev in store.watch("/t/", from_revision=rev)]

        consumer = asyncio.create_task(drain())
        for _ in range(5):
            await asyncio.sleep(0)
        await store.close()
        async with asyncio.timeout(WAIT):
            assert await consumer == []

    # ------------------------------------------------------------------ compaction

    async def test_compaction(self, store: Store) -> None:
        base = await store.current_revision()
        a1 = await store.create("/t/a", b"a1")
        b1 = await store.create("/t/b", b"b1")
        await store.create("/t/gone", b"x")
        a2 = await store.update("/t/a", b"a2", expect_mod_revision=0)
        await store.delete("/t/gone")
        mid = await store.current_revision()
        a3 = await store.update("/t/a", b"a3", expect_mod_revision=0)
        await store.compact(mid)
        assert await store.compacted_revision() == mid
        for older in (base + 1, mid - 1):
            with pytest.raises(Compacted):
                await store.get("/t/a", revision=older)
            with pytest.raises(Compacted):
                await store.list("/t/", revision=older)
            with pytest.raises(Compacted):
                await anext(store.watch("/t/", from_revision=older))
        assert (await store.list("/t/", revision=mid))[1] == [a2, b1]            # the state at mid survives
        assert await store.get("/t/gone", revision=mid) is None
        assert await store.get("/t/a", revision=mid) == a2
        assert (await store.list("/t/"))[1] == [a3, b1]
        assert a1.create_revision == a3.create_revision
        async with contextlib.aclosing(store.watch("/t/", from_revision=mid)) as events:
            assert await take(events, 1) == [Event("PUT", a3, a2)]
        await store.compact(mid)                                                   # idempotent
        with pytest.raises(FutureRevision):
            await store.compact(await store.current_revision() + 1)

    async def test_compaction_keeps_delete_events_after_it(self, store: Store) -> None:
        v1 = await store.create("/t/a", b"1")
        await store.create("/t/b", b"1")
        cut = await store.current_revision()
        await store.compact(cut)
        gone = await store.delete("/t/a")
        async with contextlib.aclosing(store.watch("/t/", from_revision=cut)) as events:
            assert await take(events, 1) == [Event("DELETE", gone, v1)]

    async def test_random_history_matches_a_model(self, store: Store) -> None:
        """Random writes and compactions; every retained revision must list exactly what a dict model had."""
        rng = random.Random(7)
        model: dict[str, KV] = {}
        history: dict[int, dict[str, KV]] = {}
        compacted = await store.compacted_revision()
        for step in range(300):
            key = f"/t/{rng.randrange(12):02d}"
            if key not in model:
                kv = model[key] = await store.create(key, b"%d" % step)
            elif rng.random() < 0.3:
                kv = await store.delete(key, expect_mod_revision=model[key].mod_revision)
                del model[key]
            else:
                kv = model[key] = await store.update(key, b"%d" % step, expect_mod_revision=model[key].mod_revision)
            history[kv.mod_revision] = dict(model)
            if step % 60 == 59:
                compacted = max(compacted, kv.mod_revision - rng.randrange(20))
                await store.compact(compacted)
        current = await store.current_revision()
        for rev, state in history.items():
            if rev < compacted:
                with pytest.raises(Compacted):
                    await store.list("/t/", revision=rev)
                continue
            expected = [state[k] for k in sorted(state)]
            got_rev, got = await store.list("/t/", revision=rev)
            assert (got_rev, got) == (rev, expected)
            assert (await store.list("/t/", revision=rev, limit=3))[1] == expected[:3]
            for key in ("/t/00", "/t/05", "/t/11"):
                assert await store.get(key, revision=rev) == state.get(key), (rev, key)
        async with contextlib.aclosing(store.watch("/t/", from_revision=compacted)) as events:
            got_events = await take_until(events, current)
        assert [ev.kv.mod_revision for ev in got_events] == [r for r in sorted(history) if r > compacted]
        for ev in got_events:
            after = history[ev.kv.mod_revision]
            if ev.type == "PUT":
                assert after[ev.kv.key] == ev.kv
            else:
                assert ev.kv.key not in after and ev.prev is not None and ev.prev.value == ev.kv.value
