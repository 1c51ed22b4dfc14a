"""An in-memory :class:`~pybernetes.storage.interface.Store` for unit tests of what sits on a store (the watch
cache, RBAC, tokens, bootstrap data, the endpoint reconciler, CRDs): etcd semantics — one global revision,
compare-and-swap on ``mod_revision``, ordered watches from any retained revision, ``Compacted`` below the
compacted revision — with no I/O, so tests are fast and deterministic.

Test controls: :meth:`MemStore.break_watches` makes every open watch fail (as a lost etcd connection does) and
:meth:`MemStore.compact` drops history, so callers can be driven through their re-list paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pybernetes.storage.interface import (
    KV,
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    StoreError,
)


class WatchBroken(StoreError):
    """Raised into open watches by :meth:`MemStore.break_watches`."""


class MemStore:
    def __init__(self) -> None:
        self.rev = 0
        self.compacted = 0
        self.kvs: dict[str, KV] = {}
        self.log: list[Event] = []
        self._queues: set[asyncio.Queue[Event | Exception]] = set()

    # ------------------------------------------------------------------ writes
    def _emit(self, ev: Event) -> None:
        self.log.append(ev)
        for q in self._queues:
            q.put_nowait(ev)

    async def create(self, key: str, value: bytes) -> KV:
        if key in self.kvs:
            raise KeyExists(key)
        self.rev += 1
        kv = KV(key, bytes(value), self.rev, self.rev)
        self.kvs[key] = kv
        self._emit(Event("PUT", kv, None))
        return kv

    async def update(self, key: str, value: bytes, *, expect_mod_revision: int) -> KV:
        cur = self.kvs.get(key)
        if cur is None:
            raise KeyNotFound(key)
        if expect_mod_revision and cur.mod_revision != expect_mod_revision:
            raise RevisionMismatch(cur)
        self.rev += 1
        kv = KV(key, bytes(value), cur.create_revision, self.rev)
        self.kvs[key] = kv
        self._emit(Event("PUT", kv, cur))
        return kv

    async def delete(self, key: str, *, expect_mod_revision: int = 0) -> KV:
        cur = self.kvs.get(key)
        if cur is None:
            raise KeyNotFound(key)
        if expect_mod_revision and cur.mod_revision != expect_mod_revision:
            raise RevisionMismatch(cur)
        self.rev += 1
        del self.kvs[key]
        kv = KV(key, cur.value, cur.create_revision, self.rev)
        self._emit(Event("DELETE", kv, cur))
        return kv

    # ------------------------------------------------------------------ reads
    async def get(self, key: str, *, revision: int = 0) -> KV | None:
        if revision:
            return self._at(revision).get(key)
        return self.kvs.get(key)

    def _at(self, revision: int) -> dict[str, KV]:
        if revision < self.compacted:
            raise Compacted(revision, self.compacted)
        if revision > self.rev:
            raise FutureRevision(str(revision))
        state: dict[str, KV] = {}
        for ev in self.log:
            if ev.kv.mod_revision > revision:
                break
            if ev.type == "DELETE":
                state.pop(ev.kv.key, None)
            else:
                state[ev.kv.key] = ev.kv
        return state

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> tuple[int, list[KV]]:
        state = self._at(revision) if revision else self.kvs
        keys = sorted(k for k in state if k.startswith(prefix) and k > start_after)
        if limit:
            keys = keys[:limit]
        return revision or self.rev, [state[k] for k in keys]

    async def count(self, prefix: str) -> int:
        return sum(1 for k in self.kvs if k.startswith(prefix))

    async def current_revision(self) -> int:
        return self.rev

    # ------------------------------------------------------------------ watch
    def watch(self, prefix: str, *, from_revision: int) -> AsyncIterator[Event]:
        return self._watch(prefix, from_revision)

    async def _watch(self, prefix: str, last: int) -> AsyncIterator[Event]:
        if last < self.compacted:
            raise Compacted(last, self.compacted)
        q: asyncio.Queue[Event | Exception] = asyncio.Queue()
        for ev in self.log:
            if ev.kv.mod_revision > last:
                q.put_nowait(ev)
        self._queues.add(q)
        try:
            while True:
                item = await q.get()
                if isinstance(item, Exception):
                    raise item
                if item.kv.key.startswith(prefix) and item.kv.mod_revision > last:
                    last = item.kv.mod_revision
                    yield item
        finally:
            self._queues.discard(q)

    # ------------------------------------------------------------------ test controls
    async def compact(self, revision: int) -> None:
        self.compacted = max(self.compacted, revision)      # history stays, but reads below it now fail

    def break_watches(self) -> None:
        for q in self._queues:
            q.put_nowait(WatchBroken("watch stream lost"))

    @property
    def watchers(self) -> int:
        return len(self._queues)

    async def close(self) -> None:
        self.break_watches()
