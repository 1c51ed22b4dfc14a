"""The Store protocol: all that ``sqlite.py`` and ``etcd.py`` implement.

Semantics are etcd v3's: one global, strictly increasing revision shared by every key; each key remembers the
revision that created it and the one that last modified it; every write is a compare-and-swap on the key's
``mod_revision``; a list is consistent at one revision; a watch replays every event after a retained revision, in
order, then follows live writes; after compaction, older revisions answer :class:`Compacted` (HTTP 410 Expired).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class KV:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    type: Literal["PUT", "DELETE"]
    kv: KV                          # for DELETE: the last value, mod_revision = the delete's revision
    prev: KV | None = None


class StoreError(Exception):
    pass


class KeyExists(StoreError):
    """create() on a key that is present."""


class KeyNotFound(StoreError):
    """update()/delete() on a key that is absent."""


class RevisionMismatch(StoreError):
    """The key's mod_revision is not the expected one; ``current`` holds the latest value (None if absent)."""

    def __init__(self, current: KV | None) -> None:
        super().__init__("revision mismatch")
        self.current = current


class Compacted(StoreError):
    """The requested revision is older than the compacted revision."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (oldest retained {compacted + 1})")
        self.requested = requested
        self.compacted = compacted


class FutureRevision(StoreError):
    """The requested revision has not happened yet."""


class Unavailable(StoreError):
    """The backend cannot be reached (etcd down, disk error)."""


class Store(Protocol):
    async def create(self, key: str, value: bytes) -> KV: ...                  # KeyExists
    async def get(self, key: str, *, revision: int = 0) -> KV | None: ...
    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> tuple[int, list[KV]]: ...               # (revision of the listing, items)
    async def count(self, prefix: str) -> int: ...
    async def update(self, key: str, value: bytes, *, expect_mod_revision: int) -> KV: ...
    # update: KeyNotFound | RevisionMismatch; expect_mod_revision=0 means unconditional
    async def delete(self, key: str, *, expect_mod_revision: int = 0) -> KV: ...
    # delete: returns the deleted KV with mod_revision = delete revision; KeyNotFound | RevisionMismatch
    def watch(self, prefix: str, *, from_revision: int) -> AsyncIterator[Event]: ...
    # events with revision > from_revision; Compacted if from_revision < compacted revision
    async def current_revision(self) -> int: ...
    async def compacted_revision(self) -> int: ...
    async def compact(self, revision: int) -> None: ...
    async def close(self) -> None: ...


async def open_store(endpoint: str) -> Store:
    """Open a store from a ``--datastore-endpoint`` value: ``sqlite:///path/state.db`` or ``etcd://h:p[,h:p]``."""
    if endpoint.startswith("sqlite://"):
        from pybernetes.storage.sqlite import SQLiteStore
        return await SQLiteStore.open(endpoint.removeprefix("sqlite://"))
    if endpoint.startswith(("etcd://", "http://", "https://")):
        from pybernetes.storage.etcd import EtcdStore
        return await EtcdStore.open(endpoint)
    raise ValueError(f"unsupported datastore endpoint {endpoint!r}: expected sqlite:///PATH or etcd://HOST:PORT")
