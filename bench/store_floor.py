"""The floor under the SQLite store: what raw SQLite does on this machine, and what SQLiteStore makes of it.

Run: ``.venv/bin/python bench/store_floor.py [--dir DIR] [--seconds S] [--uvloop] [--floor-only]``.
DIR must be on the disk the store will use (not tmpfs: fsync there is free and the numbers lie).

Floor (raw ``sqlite3``, WAL, 1 KiB values, a table keyed by rev with a unique key index):
  one-row transactions/s with synchronous=FULL and NORMAL, and rows/s when rows are committed in batches.
Store (``SQLiteStore``, synchronous=FULL unless said): creates/s from 1, 16 and 64 concurrent asyncio writers,
  get latency, list latency for 500 and 10,000 keys, watch delivery.

Measured on the project machine (Debian 12, 2 vCPU, ext4 on a virtio disk, SQLite 3.40.1, Python 3.11, asyncio
loop), 2026-11-27, while other sessions' tests and an etcd benchmark shared the disk and CPUs (load average 2.5-4).
Medians of 3-4 runs; fsync-bound figures swung by 2x between runs, so the range is given:

  floor: raw sqlite3, WAL, 1 KiB values       rate
    1-row txn/s   synchronous=FULL            2,900 - 4,400/s
    1-row txn/s   synchronous=NORMAL          15,000 - 22,800/s
    rows/s        batch 16   FULL             7,000 - 41,500/s
    rows/s        batch 100  FULL             30,000 - 80,000/s
    rows/s        batch 1000 FULL             63,000 - 95,000/s

  store: SQLiteStore                          result
    creates/s      1 writer   FULL            1,700 - 3,100/s   (one fsync per write: bounded by the floor)
    creates/s     16 writers  FULL            6,600 - 15,000/s  (group commit: 16 writes per fsync; ~17,000/s
                                                                 when the disk was not shared)
    creates/s     64 writers  FULL            11,000 - 18,000/s
    creates/s     16 writers  NORMAL          6,200 - 19,000/s
    get (current key)                         p50 ~10 µs        (on the loop thread; a thread hop is ~100 µs)
    get (older revision)                      p50 ~18 µs
    list 500 keys / 500 of 10,000 (limit)     p50 ~1.5 ms
    list 10,000 keys (now / older revision)   p50 ~45 ms / ~50-75 ms
    count 10,000 keys                         p50 ~0.8 ms
    watch replay of 10,500 events             ~70-110 ms
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pybernetes.storage.sqlite import SQLiteStore

VALUE = b"x" * 1024


def _floor_db(path: Path, synchronous: str) -> sqlite3.Connection:
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("CREATE TABLE t (rev INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, value BLOB)")
    return conn


def floor_rows_per_second(path: Path, *, synchronous: str, batch: int, seconds: float) -> float:
    """Rows/s when ``batch`` rows share one transaction (batch=1: one commit, one fsync, per row)."""
    conn = _floor_db(path, synchronous)
    rows = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t (rev, key, value) VALUES (?, ?, ?)",
                         ((rows + i + 1, f"/registry/pods/ns/p{rows + i}", VALUE) for i in range(batch)))
        conn.execute("COMMIT")
        rows += batch
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed


async def store_creates_per_second(path: Path, *, writers: int, seconds: float, synchronous: str) -> float:
    store = await SQLiteStore.open(path, synchronous=synchronous)  # type: ignore[arg-type]
    done = 0
    deadline = time.perf_counter() + seconds

    async def writer(n: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < deadline:
            await store.create(f"/registry/pods/w{n}/p{i}", VALUE)
            i += 1
        done += i

    start = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    elapsed = time.perf_counter() - start
    await store.close()
    return done / elapsed


async def _timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def store_reads(path: Path) -> dict[str, list[float]]:
    store = await SQLiteStore.open(path)
    try:
        for start in range(0, 10_000, 500):
            await asyncio.gather(*(store.create(f"/registry/pods/big/p{i:05d}", VALUE)
                                   for i in range(start, start + 500)))
        for i in range(500):
            await store.create(f"/registry/pods/small/p{i:05d}", VALUE)
        rev = await store.current_revision()
        return {
            "get (current)": await _timed(lambda: store.get("/registry/pods/big/p05000"), 2000),
            "get (older revision)": await _timed(lambda: store.get("/registry/pods/big/p05000", revision=rev - 1),
                                                 2000),
            "list 500 keys": await _timed(lambda: store.list("/registry/pods/small/"), 50),
            "list 500 of 10,000 (limit)": await _timed(lambda: store.list("/registry/pods/big/", limit=500), 50),
            "list 10,000 keys": await _timed(lambda: store.list("/registry/pods/big/"), 10),
            "list 10,000 keys at older rev": await _timed(lambda: store.list("/registry/pods/big/",
                                                                              revision=rev - 1), 10),
            "count 10,000 keys": await _timed(lambda: store.count("/registry/pods/big/"), 50),
            "watch replay 10,500 events": await _timed(lambda: _drain(store, rev), 3),
        }
    finally:
        await store.close()


async def _drain(store: SQLiteStore, until: int) -> None:
    async with contextlib.aclosing(store.watch("/registry/", from_revision=0)) as events:  # type: ignore[type-var]
        async for ev in events:
            if ev.kv.mod_revision >= until:
                return


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p50 = statistics.median(xs)
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    unit, scale = ("µs", 1e6) if p50 < 1e-3 else ("ms", 1e3)
    return f"p50 {p50 * scale:8.1f} {unit}   p99 {p99 * scale:8.1f} {unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=None, help="where to put the databases (default: under /var/tmp)")
    ap.add_argument("--seconds", type=float, default=2.0, help="per throughput measurement")
    ap.add_argument("--uvloop", action="store_true", help="run the store measurements on uvloop")
    ap.add_argument("--floor-only", action="store_true")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="store-floor-", dir=args.dir or "/var/tmp"))
    run: Callable[..., object] = asyncio.run
    if args.uvloop:
        import uvloop
        run = uvloop.run
    try:
        print(f"sqlite {sqlite3.sqlite_version}, python {sys.version.split()[0]}, dir {base}")
        print(f"\n{'floor: raw sqlite3, WAL, 1 KiB values':46} rate")
        for sync in ("FULL", "NORMAL"):
            rate = floor_rows_per_second(base / "floor.db", synchronous=sync, batch=1, seconds=args.seconds)
            print(f"  {'1-row txn/s  synchronous=' + sync:44} {rate:10,.0f}/s")
        for batch in (16, 100, 1000):
            rate = floor_rows_per_second(base / "floor.db", synchronous="FULL", batch=batch, seconds=args.seconds)
            print(f"  {f'rows/s  batch {batch:<5} FULL':44} {rate:10,.0f}/s")
        if args.floor_only:
            return
        print(f"\n{'store: SQLiteStore' + (' on uvloop' if args.uvloop else ''):46} result")
        for sync, writers in (("FULL", 1), ("FULL", 16), ("FULL", 64), ("NORMAL", 1), ("NORMAL", 16)):
            path = base / f"store-{sync}-{writers}.db"
            rate = run(store_creates_per_second(path, writers=writers, seconds=args.seconds, synchronous=sync))
            print(f"  {f'creates/s  {writers:>2} writers {sync}':44} {rate:10,.0f}/s")
        reads = run(store_reads(base / "reads.db"))
        for name, times in reads.items():  # type: ignore[attr-defined]
            print(f"  {name:44} {_ms(times)}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
