"""SQLiteStore: the shared Store conformance suite plus what only an embedded SQLite store has to get right
(restart, kill -9 durability, group commit, file locking and corruption, slow watchers, compaction in steps)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import pytest

from pybernetes.storage import sqlite as sqlite_store
from pybernetes.storage.interface import KV, Compacted, Event, KeyExists, StoreError, Unavailable
from pybernetes.storage.sqlite import SQLiteStore, prefix_end

try:                    # --import-mode=importlib with the repository root on sys.path
    from tests.unit.storage.conformance import WAIT, StoreConformance, take
except ModuleNotFoundError:  # pytest's default (prepend) mode puts this directory on sys.path instead
    from conformance import WAIT, StoreConformance, take  # type: ignore[no-redef]

# Behaviour tests skip the per-commit fsync (NORMAL still survives kill -9); durability is tested with the default FULL.
FAST: Final = "NORMAL"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "state.db", synchronous=FAST)
    yield s
    await s.close()


class TestSQLiteConformance(StoreConformance):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
        s = await SQLiteStore.open(tmp_path / "state.db", synchronous=FAST)
        yield s
        await s.close()


@pytest.mark.parametrize(("prefix", "end"), [
    ("/registry/core/pods/", "/registry/core/pods0"),
    ("/a", "/b"),
    ("", b"\xff"),
    ("\U0010ffff", b"\xff"),
    ("a\U0010ffff\U0010ffff", "b"),
    ("x\ud7ff", "x\ue000"),                       # the next code point, U+D800, is a surrogate UTF-8 cannot hold
])
def test_prefix_end(prefix: str, end: str | bytes) -> None:
    assert prefix_end(prefix) == end


async def test_unbounded_and_high_code_point_prefixes(store: SQLiteStore) -> None:
    keys = ["/a", "\U0010ffff/x", "\U0010ffff\U0010ffff", "\ue000", "x\ud7ff/1", "x\ue000"]
    for key in keys:
        await store.create(key, b"1")
    assert [kv.key for kv in (await store.list(""))[1]] == sorted(keys)
    assert [kv.key for kv in (await store.list("\U0010ffff"))[1]] == ["\U0010ffff/x", "\U0010ffff\U0010ffff"]
    assert [kv.key for kv in (await store.list("x\ud7ff"))[1]] == ["x\ud7ff/1"]
    assert await store.count("") == len(keys)


async def test_revisions_start_at_one(store: SQLiteStore) -> None:
    assert await store.current_revision() == 0
    assert await store.compacted_revision() == 0
    assert (await store.list("/"))[0] == 0
    assert await store.create("/a", b"1") == KV("/a", b"1", 1, 1)


async def test_open_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.db"
    s = await SQLiteStore.open(path)
    try:
        await s.create("/a", b"1")
    finally:
        await s.close()
    assert path.is_file()


async def test_restart_keeps_keys_and_never_reuses_a_revision(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    s = await SQLiteStore.open(path)
    a = await s.create("/t/a", b"1")
    await s.create("/t/b", b"2")
    gone = await s.delete("/t/b")
    await s.compact(gone.mod_revision)             # removes every log row of /t/b, including the newest row
    await s.close()
    await s.close()                                # idempotent

    s = await SQLiteStore.open(path)
    try:
        assert await s.current_revision() == gone.mod_revision
        assert await s.compacted_revision() == gone.mod_revision
        assert (await s.list("/t/"))[1] == [a]
        nxt = await s.create("/t/c", b"3")
        assert nxt.mod_revision == gone.mod_revision + 1
    finally:
        await s.close()


_KILL_CHILD = """
import asyncio, sys
from pybernetes.storage.sqlite import SQLiteStore

async def main():
    store = await SQLiteStore.open(sys.argv[1])
    async def writer(n):
        i = 0
        while True:
            kv = await store.create(f"/k/{n}/{i}", b"%d" % i)
            print(kv.key, kv.mod_revision, flush=True)
            i += 1
    await asyncio.gather(*(writer(n) for n in range(8)))

asyncio.run(main())
"""


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _KILL_CHILD, str(path), cwd=tmp_path,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    acked: dict[str, int] = {}
    try:
        async with asyncio.timeout(60):
            while len(acked) < 400:
                line = await child.stdout.readline()
                assert line, (await child.stderr.read()).decode()
                key, rev = line.split()
                acked[key.decode()] = int(rev)
            child.send_signal(signal.SIGKILL)      # mid-stream: writes are in flight
            for line in (await child.stdout.read()).splitlines(keepends=True):
                if line.endswith(b"\n"):           # printed before the kill landed: acknowledged too
                    key, rev = line.split()
                    acked[key.decode()] = int(rev)
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
    # -SIGKILL; 255 when asyncio's child watcher lost the status to another waitpid(-1) reaper in this test
    # process (the kubelet's process-reaper tests) — the kill was still ours, and what follows is the real check.
    assert child.returncode in (-signal.SIGKILL, 255)

    s = await SQLiteStore.open(path)
    try:
        _, items = await s.list("/k/")
        stored = {kv.key: kv.mod_revision for kv in items}
        assert {k: stored.get(k) for k in acked} == acked
        assert await s.current_revision() >= max(acked.values())
        assert (await s.create("/k/after", b"x")).mod_revision > max(stored.values())
    finally:
        await s.close()


async def test_concurrent_writes_share_commits(store: SQLiteStore) -> None:
    before = store.commits
    results = await asyncio.gather(*(store.create(f"/t/{i}", b"x" * 1024) for i in range(200)))
    assert sorted(kv.mod_revision for kv in results) == list(range(1, 201))
    assert store.commits - before < 50             # group commit: far fewer fsyncs than writes


async def test_a_failing_request_does_not_fail_its_batch(store: SQLiteStore) -> None:
    """A request that breaks inside the transaction (here: a key SQLite cannot encode) rolls back its batch;
    the others are replayed one by one and succeed."""
    results = await asyncio.gather(*(store.create(f"/t/{i}", b"x") for i in range(10)),
                                   store.create("/t/\ud800", b"bad"),
                                   *(store.create(f"/t/{i}", b"x") for i in range(10, 20)),
                                   return_exceptions=True)
    bad = results.pop(10)
    assert isinstance(bad, StoreError) and not isinstance(bad, KeyExists)
    assert [kv.mod_revision for kv in results if isinstance(kv, KV)] == list(range(1, 21))
    assert await store.count("/t/") == 20


async def test_batch_replay_is_deterministic(store: SQLiteStore) -> None:
    """Drive one batch through the writer's batch function directly, so the replay path is always taken."""
    loop = asyncio.get_running_loop()
    futs = [loop.create_future() for _ in range(4)]
    batch = [(sqlite_store._CREATE, "/t/a", b"1", 0, futs[0]),
             (sqlite_store._CREATE, "/t/\udfff", b"2", 0, futs[1]),
             (sqlite_store._CREATE, "/t/a", b"3", 0, futs[2]),
             (sqlite_store._CREATE, "/t/b", b"4", 0, futs[3])]
    outcomes = store._run_batch(store._wconn, batch)
    results = [result for _, result, _ in outcomes]
    assert results[0] == KV("/t/a", b"1", 1, 1)
    assert isinstance(results[1], StoreError)
    assert isinstance(results[2], KeyExists)
    assert results[3] == KV("/t/b", b"4", 2, 2)
    store._publish(store._wrev, store._wcompacted, outcomes)
    assert await store.current_revision() == 2
    assert (await store.list("/t/"))[1] == [results[0], results[3]]


async def test_second_open_of_the_same_file_fails(tmp_path: Path) -> None:
    s = await SQLiteStore.open(tmp_path / "state.db")
    try:
        with pytest.raises(StoreError, match="in use"):
            await SQLiteStore.open(tmp_path / "state.db")
        assert (await s.create("/a", b"1")).mod_revision == 1      # the failed attempt disturbed nothing
        assert sqlite_store.lock_path(tmp_path / "state.db").exists()
    finally:
        await s.close()
    s = await SQLiteStore.open(tmp_path / "state.db")          # the lock went with the first store
    await s.close()


@pytest.mark.parametrize(("content", "match"), [
    (b"this is not a database, just text" * 200, "not a database"),
    (b"SQLite format 3\x00" + b"\xa5" * 8000, "cannot open datastore"),
])
async def test_corrupt_file_is_a_clear_error(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=match):
        await SQLiteStore.open(path)
    path.write_bytes(b"")                          # the lock was released: an empty file becomes a store
    s = await SQLiteStore.open(path)
    await s.close()


async def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
    with pytest.raises(StoreError, match="not a pybernetes store"):
        await SQLiteStore.open(path)


async def test_database_locked_by_another_sqlite_user_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await (await SQLiteStore.open(path)).close()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        async with asyncio.timeout(WAIT):
            with pytest.raises(StoreError, match="locked"):
                await SQLiteStore.open(path, busy_timeout=0.05)
        other.execute("ROLLBACK")

        s = await SQLiteStore.open(path, busy_timeout=0.05)
        try:
            other.execute("BEGIN IMMEDIATE")
            async with asyncio.timeout(WAIT):
                results = await asyncio.gather(*(s.create(f"/t/{i}", b"x") for i in range(5)),
                                               return_exceptions=True)
            assert all(isinstance(r, Unavailable) for r in results)
            other.execute("ROLLBACK")
            assert await s.create("/t/a", b"x") == KV("/t/a", b"x", 1, 1)     # failures consumed no revision
        finally:
            await s.close()
    finally:
        other.close()


async def test_calls_after_close_fail(store: SQLiteStore) -> None:
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.create("/a", b"1")
    with pytest.raises(StoreError, match="closed"):
        await store.get("/a")
    with pytest.raises(StoreError, match="closed"):
        await store.list("/")
    with pytest.raises(StoreError, match="closed"):
        store.watch("/", from_revision=0)


async def test_slow_watcher_blocks_nobody_and_catches_up_from_the_log(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "state.db", watch_buffer=8)
    try:
        slow = store.watch("/t/", from_revision=0)
        fast = store.watch("/t/", from_revision=0)
        written = [await store.create("/t/first", b"x")]
        assert await take(slow, 1) == await take(fast, 1) == [Event("PUT", written[0], None)]  # both now live
        fast_seen = list(written)
        for i in range(100):
            written.append(await store.create(f"/t/{i:03d}", b"x"))    # completes although nobody reads `slow`
            fast_seen += [ev.kv for ev in await take(fast, 1)]
        assert fast_seen == written
        assert [ev.kv for ev in await take(slow, 100)] == written[1:]  # in order, no gap, no duplicate
        more = await store.create("/t/more", b"y")
        assert [ev.kv for ev in await take(slow, 1)] == [more]         # and back to live delivery
        await slow.aclose()  # type: ignore[attr-defined]
        await fast.aclose()  # type: ignore[attr-defined]
    finally:
        await store.close()


async def test_lagging_watcher_whose_history_is_compacted_gets_compacted(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "state.db", watch_buffer=4)
    try:
        events = store.watch("/t/", from_revision=0)
        first = await store.create("/t/first", b"x")
        assert await take(events, 1) == [Event("PUT", first, None)]
        for i in range(20):                        # overflows the buffer of 4: the watcher must re-read the log
            await store.create(f"/t/{i}", b"x")
        await store.compact(await store.current_revision())
        with pytest.raises(Compacted) as err:
            await take(events, 1)
        assert err.value.requested == first.mod_revision
    finally:
        await store.close()


async def test_watchers_are_released_when_the_consumer_stops(store: SQLiteStore) -> None:
    async def first_event() -> Event:
        async for ev in store.watch("/t/", from_revision=0):
            return ev                              # leaves the iterator suspended, unreferenced
        raise AssertionError("watch ended")

    await store.create("/t/a", b"1")
    await first_event()
    gc.collect()
    for _ in range(5):
        await asyncio.sleep(0)                     # the loop runs the finaliser's aclose()
    assert store.watcher_count == 0

    events = store.watch("/t/", from_revision=0)
    await take(events, 1)
    assert store.watcher_count == 1
    await events.aclose()  # type: ignore[attr-defined]
    assert store.watcher_count == 0


async def test_close_ends_watchers_after_their_buffered_events(store: SQLiteStore) -> None:
    events = store.watch("/t/", from_revision=0)
    await store.create("/t/first", b"1")
    await take(events, 1)                          # subscribed and live
    a = await store.create("/t/a", b"1")
    b = await store.create("/t/b", b"1")
    await store.close()
    async with asyncio.timeout(WAIT):
        assert [ev.kv async for ev in events] == [a, b]
    assert store.watcher_count == 0


async def _log_rows(store: SQLiteStore) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        return conn.execute("SELECT * FROM log ORDER BY rev").fetchall()


async def test_compaction_in_small_steps_equals_one_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stores = [await SQLiteStore.open(tmp_path / "one.db"), await SQLiteStore.open(tmp_path / "steps.db")]
    try:
        for s in stores:
            for i in range(30):
                key = f"/t/{i % 7}"
                if await s.get(key) is None:
                    await s.create(key, b"%d" % i)
                elif i % 4 == 0:
                    await s.delete(key)
                else:
                    await s.update(key, b"%d" % i, expect_mod_revision=0)
        await stores[0].compact(25)
        monkeypatch.setattr(sqlite_store, "COMPACT_STEP", 2)
        await stores[1].compact(25)
        assert await _log_rows(stores[0]) == await _log_rows(stores[1])
        rows = await _log_rows(stores[0])
        at_or_below = [row for row in rows if row[0] <= 25]
        # what survives at or below the compacted revision: exactly the live version of each key as of 25
        _, state = await stores[0].list("/t/", revision=25)
        assert sorted(row[0] for row in at_or_below) == sorted(kv.mod_revision for kv in state if kv.mod_revision <= 25)
        assert all(row[4] == 0 for row in at_or_below)
    finally:
        for s in stores:
            await s.close()


async def test_open_rejects_bad_synchronous(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        await SQLiteStore.open(tmp_path / "x.db", synchronous="OFF")  # type: ignore[arg-type]


async def test_replay_and_live_overlap_is_deduplicated(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the race the subscribe-then-replay order must survive: an event that is both published to the
    fresh subscription and inside the replay's snapshot is yielded once."""
    a = await store.create("/t/a", b"1")
    real_read = store._read
    raced: list[KV] = []

    async def read_after_a_racing_write(fn, *args):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(await store.create("/t/b", b"2"))   # published into the watcher's buffer, then replayed
        return await real_read(fn, *args)

    monkeypatch.setattr(store, "_read", read_after_a_racing_write)
    async with contextlib.aclosing(store.watch("/t/", from_revision=0)) as events:
        assert [ev.kv for ev in await take(events, 2)] == [a, raced[0]]
        d = await store.create("/t/d", b"4")
        assert [ev.kv for ev in await take(events, 1)] == [d]


@pytest.mark.parametrize(("synchronous", "level"), [("FULL", 2), ("NORMAL", 1), ("EXTRA", 3)])
async def test_writer_runs_in_wal_with_the_chosen_sync_level(tmp_path: Path, synchronous: str, level: int) -> None:
    s = await SQLiteStore.open(tmp_path / "state.db", synchronous=synchronous)  # type: ignore[arg-type]
    try:
        await s.create("/a", b"1")                 # the writer thread is idle again once this returns
        assert s._wconn.execute("PRAGMA synchronous").fetchone()[0] == level
        assert s._wconn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await s.close()


async def test_replay_runs_in_chunks(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store, "REPLAY_CHUNK", 3)
    written = [await store.create(f"/t/{i:02d}", b"x") for i in range(10)]
    await store.create("/other", b"x")
    async with contextlib.aclosing(store.watch("/t/", from_revision=0)) as events:
        assert [ev.kv for ev in await take(events, 10)] == written
        live = await store.create("/t/live", b"y")
        assert [ev.kv for ev in await take(events, 1)] == [live]


async def test_a_cancelled_caller_does_not_undo_its_write(store: SQLiteStore) -> None:
    task = asyncio.create_task(store.create("/t/a", b"1"))
    await asyncio.sleep(0)                         # the request is queued
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    b = await store.create("/t/b", b"2")           # queued after /t/a, so /t/a is committed by now
    assert await store.get("/t/a") == KV("/t/a", b"1", 1, 1)
    assert b.mod_revision == 2


async def test_close_finishes_queued_writes(store: SQLiteStore) -> None:
    writes = [asyncio.ensure_future(store.create(f"/t/{i}", b"x")) for i in range(50)]
    await asyncio.sleep(0)                         # all 50 are queued
    await store.close()
    assert [w.result().mod_revision for w in writes] == list(range(1, 51))


@pytest.mark.parametrize("key", [b"/t/a", 7])
async def test_non_string_keys_are_refused(store: SQLiteStore, key: object) -> None:
    with pytest.raises(TypeError):
        await store.create(key, b"x")  # type: ignore[arg-type]
