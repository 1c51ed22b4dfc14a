"""The embedded store: etcd v3 semantics over one SQLite file, with group commit.

The file's layout (kine's idea of one append-only log whose row id *is* the global revision, plus a current-state
index), opening it and the read transactions over it live in :mod:`pybernetes.storage.sqlite_db`; this module is
the store itself: the writer thread, the readers, and watch fan-out.

Writes: ONE writer thread owns the write connection. Callers put a request on a queue and await a future; the
thread takes every pending request, applies them in one transaction (one fsync: group commit), then hands results
and watch events back to the event loop in one ``call_soon_threadsafe``. Compare-and-swap checks run in that thread
against the transaction's own state, so they are atomic. A request that fails its check (KeyExists,
RevisionMismatch, ...) writes nothing and does not affect its batch; an unexpected error inside one request rolls
the batch back and replays each request in its own transaction, so only the culprit fails.

Reads use read-only connections (WAL readers never block, nor wait for, the writer). Point gets run on the event
loop thread (~10 µs, where a thread hop alone costs ~100 µs); lists, counts and watch replays run in a small thread
pool. A multi-step read runs in one read transaction, so it sees one snapshot and knows its revision.

Watches subscribe first, then replay the log after ``from_revision``, then follow live events, skipping anything
already yielded: no gap, no duplicate. Each watcher has a bounded buffer; a watcher that falls behind by more than
``watch_buffer`` events loses its buffer and goes back to replaying from the log (etcd's "unsynced" watchers), so it
never blocks the writer or other watchers and memory stays bounded. If the log it needs has been compacted meanwhile,
the iterator raises :class:`~pybernetes.storage.interface.Compacted` (410 Expired: the API server re-lists).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from pybernetes.storage.interface import (
    KV,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    Store,
    StoreError,
    Unavailable,
)
from pybernetes.storage.sqlite_db import (
    APPLICATION_ID,
    MMAP_SIZE,
    PAGE_SIZE,
    SCHEMA_VERSION,
    _count,
    _events_after,
    _get_at,
    _get_current,
    _list,
    _open_writer,
    lock_path,
    prefix_end,
)

__all__ = ["APPLICATION_ID", "COMPACT_STEP", "MMAP_SIZE", "PAGE_SIZE", "REPLAY_CHUNK", "SCHEMA_VERSION",
           "SQLiteStore", "lock_path", "prefix_end"]

log = logging.getLogger(__name__)

T = TypeVar("T")

COMPACT_STEP = 10_000                # revisions per compaction transaction, so writers are not stalled for long
REPLAY_CHUNK = 1_000                 # events per replay query

# -- writer statements
_CREATE_KV = "INSERT OR IGNORE INTO kv (key, create_rev, mod_rev) VALUES (?, ?, ?)"
_APPEND = "INSERT INTO log (rev, key, create_rev, prev_rev, deleted, value) VALUES (?, ?, ?, ?, ?, ?)"
_CURRENT = "SELECT k.create_rev, k.mod_rev, l.value FROM kv k JOIN log l ON l.rev = k.mod_rev WHERE k.key = ?"
_UPDATE_KV = "UPDATE kv SET mod_rev = ? WHERE key = ?"
_DELETE_KV = "DELETE FROM kv WHERE key = ?"
# Compacting (lo, hi]: a version is dropped once a later version of its key exists at or below hi (that later row
# names it in prev_rev), and every delete row at or below hi goes (the key is absent either way).
_COMPACT_SUPERSEDED = ("DELETE FROM log WHERE rev IN "
                       "(SELECT prev_rev FROM log WHERE rev > ? AND rev <= ? AND prev_rev > 0)")
_COMPACT_TOMBSTONES = "DELETE FROM log WHERE rev > ? AND rev <= ? AND deleted = 1"
_SET_COMPACT = "UPDATE meta SET value = ? WHERE name = 'compact_rev'"

# -- writer requests: (op, key, value, expect_mod_revision, future)
_CREATE, _UPDATE, _DELETE, _COMPACT = range(4)
_STOP: Any = object()

Request = tuple[int, str, bytes, int, "asyncio.Future[Any]"]
Outcome = tuple["asyncio.Future[Any]", Any, "Event | None"]   # (future, KV/None or exception, event)


class _Watcher:
    """One watch's subscription: a bounded buffer filled on the event loop thread by :meth:`SQLiteStore._publish`."""

    __slots__ = ("buffer", "closed", "lagging", "limit", "prefix", "waiter")

    def __init__(self, prefix: str, limit: int) -> None:
        self.prefix = prefix
        self.limit = limit
        self.buffer: collections.deque[Event] = collections.deque()
        self.lagging = False                      # overflowed: buffer dropped, the iterator must replay the log
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None

    def push(self, event: Event) -> None:
        if self.lagging:
            return
        if len(self.buffer) >= self.limit:
            self.buffer.clear()
            self.lagging = True
        else:
            self.buffer.append(event)
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class SQLiteStore:
    """A :class:`~pybernetes.storage.interface.Store` in one SQLite file. Open with ``await SQLiteStore.open(path)``.

    Bound to the event loop that opened it. A write whose caller is cancelled still happens (it may already be in
    a committed batch). Calls after :meth:`close` raise :class:`StoreError`.
    """

    def __init__(self, *, path: Path, loop: asyncio.AbstractEventLoop, writer_conn: sqlite3.Connection,
                 lock_fd: int, revision: int, compacted: int, busy_timeout: float, readers: int,
                 watch_buffer: int, max_batch: int) -> None:
        self.path = path
        self._loop = loop
        self._lock_fd = lock_fd
        self._rev = revision                       # loop side: last published revision
        self._compacted = compacted
        self._wrev = revision                      # writer side
        self._wcompacted = compacted
        self.commits = 0                           # transactions committed by the writer thread (metrics, tests)
        self._closed = False
        self._writer_alive = True
        self._watchers: dict[str, set[_Watcher]] = {}
        self._watch_buffer = watch_buffer
        self._max_batch = max_batch
        self._busy_ms = int(busy_timeout * 1000)
        self._queue: queue.SimpleQueue[Request] = queue.SimpleQueue()
        self._writer_done: asyncio.Future[None] = loop.create_future()
        self._wconn = writer_conn
        self._rconns: list[sqlite3.Connection] = []
        self._rlocal = threading.local()
        self._inline: sqlite3.Connection | None = None
        self._rlock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-read")
        self._writer = threading.Thread(target=self._writer_main, name="sqlite-writer", daemon=True)
        self._writer.start()

    # ---------------------------------------------------------------- opening and closing

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL",
                   busy_timeout: float = 5.0, readers: int = 2, watch_buffer: int = 10_000,
                   max_batch: int = 1_000) -> SQLiteStore:
        """Open (creating parent directories and schema) the store at ``path``.

        ``synchronous=FULL`` fsyncs every commit: an acknowledged write survives power loss, like etcd. ``NORMAL``
        survives a killed process but may lose the last commits on power loss. ``<path>-lock`` is ``flock``ed for
        this store's lifetime, so a second server on the same file fails fast instead of corrupting revisions.
        ``busy_timeout`` bounds how long a lock held by another SQLite user is waited for before :class:`Unavailable`.
        """
        loop = asyncio.get_running_loop()
        p = Path(path)
        conn, fd, rev, compacted = await asyncio.to_thread(_open_writer, p, synchronous, busy_timeout)
        return cls(path=p, loop=loop, writer_conn=conn, lock_fd=fd, revision=rev, compacted=compacted,
                   busy_timeout=busy_timeout, readers=readers,
                   watch_buffer=watch_buffer, max_batch=max_batch)

    async def close(self) -> None:
        """Finish queued writes, end every watch iterator (after it drains what it was sent), release the file."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await self._writer_done
        for watchers in self._watchers.values():
            for w in watchers:
                w.closed = True
                w.wake()
        await asyncio.to_thread(self._readers.shutdown)
        for conn in self._rconns:
            conn.close()
        os.close(self._lock_fd)

    @property
    def watcher_count(self) -> int:
        """Open watch iterators (for metrics and leak tests)."""
        return sum(len(ws) for ws in self._watchers.values())

    # ---------------------------------------------------------------- writes

    def _submit(self, op: int, key: str, value: bytes, expect: int) -> asyncio.Future[Any]:
        if self._closed or not self._writer_alive:
            raise StoreError("store is closed")
        if type(key) is not str:                  # a bytes key would be stored as a BLOB and sort apart
            raise TypeError(f"key must be str, not {type(key).__name__}")
        if type(value) is not bytes:
            value = bytes(value)
        fut = self._loop.create_future()
        self._queue.put((op, key, value, expect, fut))
        return fut

    async def create(self, key: str, value: bytes) -> KV:
        result: KV = await self._submit(_CREATE, key, value, 0)
        return result

    async def update(self, key: str, value: bytes, *, expect_mod_revision: int) -> KV:
        result: KV = await self._submit(_UPDATE, key, value, expect_mod_revision)
        return result

    async def delete(self, key: str, *, expect_mod_revision: int = 0) -> KV:
        result: KV = await self._submit(_DELETE, key, b"", expect_mod_revision)
        return result

    async def compact(self, revision: int) -> None:
        """Drop history at or below ``revision``, keeping each key's version as of ``revision``.

        Runs as a series of small writer transactions (``COMPACT_STEP`` revisions each) between normal batches.
        Compacting to a revision already compacted is a no-op; above the current revision is FutureRevision.
        """
        if revision > self._rev:
            raise FutureRevision(f"required revision {revision} is a future revision (current {self._rev})")
        while self._compacted < revision:
            await self._submit(_COMPACT, "", b"", min(revision, self._compacted + COMPACT_STEP))

    async def current_revision(self) -> int:
        return self._rev

    async def compacted_revision(self) -> int:
        return self._compacted

    # ---------------------------------------------------------------- the writer thread

    def _writer_main(self) -> None:
        conn = self._wconn
        get, get_nowait, max_batch = self._queue.get, self._queue.get_nowait, self._max_batch
        stopping = False
        try:
            while not stopping:
                batch = [get()]
                if batch[0] is _STOP:
                    break
                while len(batch) < max_batch:
                    try:
                        req = get_nowait()
                    except queue.Empty:
                        break
                    if req is _STOP:
                        stopping = True
                        break
                    batch.append(req)
                outcomes = self._run_batch(conn, batch)
                self._loop.call_soon_threadsafe(self._publish, self._wrev, self._wcompacted, outcomes)
        except BaseException:                      # a bug here must not leave callers waiting forever
            log.exception("sqlite writer thread failed", extra={"path": str(self.path)})
            raise
        finally:
            conn.close()
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                self._loop.call_soon_threadsafe(self._writer_stopped)

    def _writer_stopped(self) -> None:
        self._writer_alive = False
        if not self._writer_done.done():
            self._writer_done.set_result(None)
        while True:                                  # fail anything queued after a crash
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            if req is not _STOP and not req[4].done():
                req[4].set_exception(StoreError("store is closed"))

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Request]) -> list[Outcome]:
        """Apply ``batch`` in one transaction; on an error inside one request, replay each request alone."""
        rev, compacted = self._wrev, self._wcompacted
        cur = conn.cursor()
        in_request = False
        try:
            cur.execute("BEGIN IMMEDIATE")
            in_request = True
            outcomes = [self._apply(cur, req) for req in batch]
            in_request = False
            cur.execute("COMMIT")
            self.commits += 1
            return outcomes
        except Exception as err:
            with contextlib.suppress(sqlite3.Error):
                cur.execute("ROLLBACK")
            self._wrev, self._wcompacted = rev, compacted
            if in_request and len(batch) > 1:
                return [out for req in batch for out in self._run_batch(conn, [req])]
            log.warning("sqlite write failed", extra={"path": str(self.path), "error": str(err)})
            failure = _as_store_error(err)
            return [(req[4], failure, None) for req in batch]

    def _apply(self, cur: sqlite3.Cursor, req: Request) -> Outcome:
        """One request inside the open transaction. Expected failures are returned, never raised."""
        op, key, value, expect, fut = req
        rev = self._wrev + 1
        if op == _CREATE:
            cur.execute(_CREATE_KV, (key, rev, rev))
            if cur.rowcount != 1:
                return fut, KeyExists(key), None
            cur.execute(_APPEND, (rev, key, rev, 0, 0, value))
            self._wrev = rev
            kv = KV(key, value, rev, rev)
            return fut, kv, Event("PUT", kv, None)
        if op == _COMPACT:
            return fut, self._compact(cur, expect), None
        row = cur.execute(_CURRENT, (key,)).fetchone()
        if row is None:
            return fut, KeyNotFound(key), None
        create_rev, mod_rev, old_value = row
        prev = KV(key, old_value, create_rev, mod_rev)
        if expect and expect != mod_rev:
            return fut, RevisionMismatch(prev), None
        if op == _UPDATE:
            cur.execute(_UPDATE_KV, (rev, key))
            cur.execute(_APPEND, (rev, key, create_rev, mod_rev, 0, value))
            self._wrev = rev
            kv = KV(key, value, create_rev, rev)
            return fut, kv, Event("PUT", kv, prev)
        cur.execute(_DELETE_KV, (key,))
        cur.execute(_APPEND, (rev, key, create_rev, mod_rev, 1, None))
        self._wrev = rev
        kv = KV(key, old_value, create_rev, rev)
        return fut, kv, Event("DELETE", kv, prev)

    def _compact(self, cur: sqlite3.Cursor, target: int) -> StoreError | None:
        if target > self._wrev:
            return FutureRevision(f"required revision {target} is a future revision (current {self._wrev})")
        lo = self._wcompacted
        if target <= lo:
            return None
        cur.execute(_COMPACT_SUPERSEDED, (lo, target))
        cur.execute(_COMPACT_TOMBSTONES, (lo, target))
        cur.execute(_SET_COMPACT, (target,))
        self._wcompacted = target
        return None

    # ---------------------------------------------------------------- back on the event loop

    def _publish(self, revision: int, compacted: int, outcomes: list[Outcome]) -> None:
        """Resolve a committed batch's futures and feed its events to watchers, in revision order."""
        self._rev = revision
        self._compacted = compacted
        watchers = self._watchers
        for fut, result, event in outcomes:
            if event is not None and watchers:
                key = event.kv.key
                for prefix, ws in watchers.items():
                    if key.startswith(prefix):
                        for w in ws:
                            w.push(event)
            if fut.done():                       # the caller was cancelled; the write stands
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    # ---------------------------------------------------------------- reads

    def _connect_reader(self, *, busy_ms: int) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, cached_statements=64)
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
        conn.execute("PRAGMA query_only = 1")
        conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
        conn.execute("PRAGMA cache_size = -16384")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._rlocal, "conn", None)
        if conn is None:
            conn = self._rlocal.conn = self._connect_reader(busy_ms=self._busy_ms)
            with self._rlock:
                self._rconns.append(conn)
        return conn

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError("store is closed")
        return await self._loop.run_in_executor(self._readers, self._in_reader, fn, args)

    def _in_reader(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(self._reader(), *args)
        except sqlite3.Error as err:
            raise _as_store_error(err) from err

    async def _read_inline(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a point read on the event loop thread: ~10 µs, where a thread hop costs ~100 µs (measured).

        This connection never waits for a lock (busy_timeout 0); in the rare case SQLite answers BUSY (WAL reset),
        the read goes to a reader thread, which may wait, instead of stalling the loop.
        """
        if self._closed:
            raise StoreError("store is closed")
        conn = self._inline
        if conn is None:
            conn = self._inline = self._connect_reader(busy_ms=0)
            self._rconns.append(conn)
        try:
            return fn(conn, *args)
        except sqlite3.OperationalError as err:
            if err.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise _as_store_error(err) from err
        except sqlite3.Error as err:
            raise _as_store_error(err) from err
        return await self._read(fn, *args)

    async def get(self, key: str, *, revision: int = 0) -> KV | None:
        if revision < 0:
            raise ValueError("revision must not be negative")
        if revision:
            return await self._read_inline(_get_at, key, revision)
        return await self._read_inline(_get_current, key)

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> tuple[int, list[KV]]:
        """Keys starting with ``prefix`` (a raw string prefix) in key order, after ``start_after``, at most ``limit``
        (0: all), as of ``revision`` (0: now). Returns the listing's revision, for continuation pages.
        To know whether more keys follow, ask for one more than you need."""
        if revision < 0 or limit < 0:
            raise ValueError("revision and limit must not be negative")
        return await self._read(_list, prefix, revision, start_after, limit or -1)

    async def count(self, prefix: str) -> int:
        return await self._read(_count, prefix)

    # ---------------------------------------------------------------- watch

    def watch(self, prefix: str, *, from_revision: int) -> AsyncIterator[Event]:
        """Every event on keys starting with ``prefix`` with revision > ``from_revision``, in order, then live ones.

        Errors arrive on the first ``__anext__``: Compacted if ``from_revision`` is below the compacted revision (or
        becomes so while this watcher lags behind, see the module docstring). Ends when the store closes.
        """
        if self._closed:
            raise StoreError("store is closed")
        return self._watch(prefix, from_revision)

    async def _watch(self, prefix: str, last: int) -> AsyncIterator[Event]:
        w = _Watcher(prefix, self._watch_buffer)
        self._watchers.setdefault(prefix, set()).add(w)
        loop = self._loop
        try:
            while True:
                # Subscribed with an empty buffer: replay everything committed so far, then the buffer.
                w.lagging = False
                w.buffer.clear()
                while True:
                    if self._closed:
                        return
                    events = await self._read(_events_after, prefix, last, REPLAY_CHUNK)
                    for event in events:
                        last = event.kv.mod_revision
                        yield event
                    if len(events) < REPLAY_CHUNK:
                        break
                while not w.lagging:
                    if w.buffer:
                        event = w.buffer.popleft()
                        if event.kv.mod_revision > last:
                            last = event.kv.mod_revision
                            yield event
                    elif w.closed:
                        return
                    else:
                        w.waiter = loop.create_future()
                        try:
                            await w.waiter
                        finally:
                            w.waiter = None
        finally:
            ws = self._watchers.get(prefix)
            if ws is not None:
                ws.discard(w)
                if not ws:
                    del self._watchers[prefix]



def _as_store_error(err: BaseException) -> StoreError:
    if isinstance(err, StoreError):
        return err
    if isinstance(err, sqlite3.OperationalError | sqlite3.DatabaseError):
        return Unavailable(f"sqlite: {err}")
    return StoreError(f"write failed: {err!r}")


def _conforms(store: SQLiteStore) -> Store:
    """Static check (mypy) that SQLiteStore implements the Store protocol."""
    return store
