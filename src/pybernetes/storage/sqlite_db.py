"""The SQLite file behind :class:`~pybernetes.storage.sqlite.SQLiteStore`: its layout, opening it, reading it.

The layout (kine's idea of one append-only log whose row id *is* the global revision, plus a current-state index):

- ``log(rev, key, create_rev, prev_rev, deleted, value)``: one row per write, ``rev`` is the revision. A delete row
  has ``value`` NULL and ``prev_rev`` naming the version it removed; a create has ``prev_rev`` 0. The ``prev_rev``
  chain is what compaction walks and what fills ``Event.prev``. Index ``(key, rev)`` serves reads at old revisions.
- ``kv(key, create_rev, mod_rev)``: the live keys, pointing into ``log`` for the value (stored once). Current gets,
  lists and counts are range scans here.
- ``meta('compact_rev')``: the compacted revision. The current revision is never stored: it is
  ``max(max(log.rev), compact_rev)`` (compaction only removes rows at or below ``compact_rev``), so a restart never
  reuses a revision.

Opening takes an exclusive lock file, switches to WAL, and creates or checks the schema (a foreign SQLite file or
another schema version is refused). The read functions here are pure SQL over one connection, run by the store in
its reader threads; a multi-step read runs in one read transaction, so it sees one snapshot and knows its
revision. The writer's statements stay with the writer in :mod:`pybernetes.storage.sqlite`.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from pybernetes.storage.interface import KV, Compacted, Event, FutureRevision, StoreError

APPLICATION_ID = 0x70796B38          # "pyk8": marks a file as ours, so a foreign SQLite file is refused
SCHEMA_VERSION = 1
PAGE_SIZE = 4096
MMAP_SIZE = 1 << 30                  # reads through mmap: a 10k-key list of 1 KiB values takes half the time
_UNBOUNDED = b"\xff"                 # a BLOB sorts after every TEXT in SQLite: "key < X'FF'" bounds nothing

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    create_rev INTEGER NOT NULL,
    prev_rev INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    value BLOB
);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta VALUES ('compact_rev', 0);
"""

# -- reader statements
_SNAPSHOT = "SELECT (SELECT ifnull(max(rev), 0) FROM log), (SELECT value FROM meta WHERE name = 'compact_rev')"
_GET = "SELECT k.key, l.value, k.create_rev, k.mod_rev FROM kv k JOIN log l ON l.rev = k.mod_rev WHERE k.key = ?"
_GET_AT = ("SELECT key, value, create_rev, rev, deleted FROM log WHERE key = ? AND rev <= ? "
           "ORDER BY rev DESC LIMIT 1")
_LIST = ("SELECT k.key, l.value, k.create_rev, k.mod_rev FROM kv k JOIN log l ON l.rev = k.mod_rev "
         "WHERE k.key {op} ? AND k.key < ? ORDER BY k.key LIMIT ?")
# Streams in key order (so LIMIT stops early): each logged version in range is kept iff it is its key's newest at
# or below the revision. A GROUP BY form had to read the whole range first: 25 ms for a 500-key page of 10,000.
_LIST_AT = ("SELECT l.key, l.value, l.create_rev, l.rev FROM log l WHERE l.key {op} ? AND l.key < ? "
            "AND l.rev = (SELECT max(rev) FROM log WHERE key = l.key AND rev <= ?) AND l.deleted = 0 "
            "ORDER BY l.key LIMIT ?")
_COUNT = "SELECT count(*) FROM kv WHERE key >= ? AND key < ?"
_EVENTS = ("SELECT l.rev, l.key, l.create_rev, l.prev_rev, l.deleted, l.value, p.value FROM log l "
           "LEFT JOIN log p ON p.rev = l.prev_rev WHERE l.rev > ? AND l.key >= ? AND l.key < ? "
           "ORDER BY l.rev LIMIT ?")


def prefix_end(prefix: str) -> str | bytes:
    """The smallest key above every key that starts with ``prefix``, as an exclusive upper bound for SQL.

    SQLite compares TEXT as UTF-8 bytes, which orders like Python's code points, so bumping the last code point works;
    surrogates cannot be encoded, hence the jump over them. An empty (or all-U+10FFFF) prefix has no bound.
    """
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return _UNBOUNDED
    nxt = ord(stem[-1]) + 1
    if 0xD800 <= nxt <= 0xDFFF:
        nxt = 0xE000
    return stem[:-1] + chr(nxt)


# -------------------------------------------------------------------- read transactions (run in reader threads)

@contextlib.contextmanager
def _read_tx(conn: sqlite3.Connection) -> Iterator[None]:
    """One read snapshot for several statements (WAL: never blocks, never blocked by, the writer)."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _snapshot(conn: sqlite3.Connection) -> tuple[int, int]:
    rev, compacted = conn.execute(_SNAPSHOT).fetchone()
    return max(rev, compacted), compacted


def _check_revision(requested: int, current: int, compacted: int) -> None:
    if requested > current:
        raise FutureRevision(f"required revision {requested} is a future revision (current {current})")
    if requested < compacted:
        raise Compacted(requested, compacted)


def _get_current(conn: sqlite3.Connection, key: str) -> KV | None:
    row = conn.execute(_GET, (key,)).fetchone()
    return None if row is None else KV(*row)


def _get_at(conn: sqlite3.Connection, key: str, revision: int) -> KV | None:
    with _read_tx(conn):
        current, compacted = _snapshot(conn)
        _check_revision(revision, current, compacted)
        row = conn.execute(_GET_AT, (key, revision)).fetchone()
    if row is None or row[4]:
        return None
    return KV(row[0], row[1], row[2], row[3])


def _list(conn: sqlite3.Connection, prefix: str, revision: int, start_after: str,
          limit: int) -> tuple[int, list[KV]]:
    # start at the prefix, or strictly after the continuation key
    op, lower = (">", start_after) if start_after >= prefix else (">=", prefix)
    end = prefix_end(prefix)
    with _read_tx(conn):
        current, compacted = _snapshot(conn)
        if revision in (0, current):
            rows = conn.execute(_LIST_SQL[op], (lower, end, limit)).fetchall()
            revision = current
        else:
            _check_revision(revision, current, compacted)
            rows = conn.execute(_LIST_AT_SQL[op], (lower, end, revision, limit)).fetchall()
    return revision, list(itertools.starmap(KV, rows))


_LIST_SQL = {op: _LIST.format(op=op) for op in (">", ">=")}
_LIST_AT_SQL = {op: _LIST_AT.format(op=op) for op in (">", ">=")}


def _count(conn: sqlite3.Connection, prefix: str) -> int:
    n: int = conn.execute(_COUNT, (prefix, prefix_end(prefix))).fetchone()[0]
    return n


def _events_after(conn: sqlite3.Connection, prefix: str, after: int, limit: int) -> list[Event]:
    """Up to ``limit`` logged events after revision ``after``, from one snapshot; Compacted if that is gone.

    A previous version (``prev_rev``) of a retained row is always retained: compaction drops a version only once a
    later version exists at or below the compacted revision.
    """
    with _read_tx(conn):
        _, compacted = _snapshot(conn)
        if after < compacted:
            raise Compacted(after, compacted)
        rows = conn.execute(_EVENTS, (after, prefix, prefix_end(prefix), limit)).fetchall()
    events = []
    for rev, key, create_rev, prev_rev, deleted, value, prev_value in rows:
        prev = KV(key, prev_value, create_rev, prev_rev) if prev_rev else None
        if deleted:
            events.append(Event("DELETE", KV(key, prev_value, create_rev, rev), prev))
        else:
            events.append(Event("PUT", KV(key, value, create_rev, rev), prev))
    return events


# -------------------------------------------------------------------- opening (runs in a thread)

def lock_path(path: Path) -> Path:
    """The lock file held while a store has ``path`` open (beside SQLite's own ``-wal`` and ``-shm``)."""
    return path.with_name(path.name + "-lock")


def _open_writer(path: Path, synchronous: str, busy_timeout: float) -> tuple[sqlite3.Connection, int, int, int]:
    """Lock the file, connect, set pragmas, create or check the schema; return (conn, lock fd, rev, compacted)."""
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A separate lock file: closing any fd of the database file itself would drop SQLite's POSIX locks.
        fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise StoreError(f"cannot open datastore {path}: {err.strerror}") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        raise StoreError(f"datastore {path} is in use by another process (or store)") from err
    conn = None
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=64,
                               timeout=busy_timeout)
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")     # takes effect only when the file is new
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"datastore {path}: cannot switch to WAL journal mode (got {mode!r})")
        for pragma in (f"synchronous = {synchronous}", "cache_size = -65536", f"mmap_size = {MMAP_SIZE}",
                       "journal_size_limit = 67108864"):     # 64 MiB page cache; WAL truncated back to 64 MiB
            conn.execute(f"PRAGMA {pragma}")
        _ensure_schema(conn, path)
        current, compacted = _snapshot(conn)
        return conn, fd, current, compacted
    except BaseException as err:
        if conn is not None:
            conn.close()
        os.close(fd)
        if isinstance(err, sqlite3.Error):
            raise StoreError(f"cannot open datastore {path}: {err}") from err
        raise


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and tables == 0:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif app_id != APPLICATION_ID:
            raise StoreError(f"datastore {path} is an SQLite file but not a pybernetes store")
        elif version != SCHEMA_VERSION:
            raise StoreError(f"datastore {path} has schema version {version}; this build reads {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
