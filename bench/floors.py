"""The SQLite floor for the report: raw ``sqlite3`` and ``SQLiteStore`` on this machine's disk.

The measurements are bench/store_floor.py's (run that file alone for its full printout); this module collects
them as :class:`~bench.stats.Summary` records and adds the one write it lacks, compare-and-swap updates, so each
API figure has the same operation done directly on the store beside it. Store figures run on uvloop, as the
server does.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from bench import store_floor
from bench.stats import Summary
from pybernetes.storage.sqlite import SQLiteStore

WRITERS = (1, 16, 64)


def rate_only(rate: float) -> Summary:
    nan = float("nan")
    return Summary(count=0, rate=rate, p50=nan, p99=nan, max=nan)


async def store_updates(path: Path, *, writers: int, seconds: float) -> Summary:
    """Compare-and-swap updates from ``writers`` concurrent writers, each on its own 8 keys."""
    store = await SQLiteStore.open(path)
    lat: list[float] = []
    try:
        revs = {}
        for w in range(writers):
            for k in range(8):
                key = f"/registry/configmaps/u/w{w}-{k}"
                revs[key] = (await store.create(key, store_floor.VALUE)).mod_revision
        deadline = time.monotonic() + seconds

        async def writer(w: int) -> None:
            i = 0
            while (t0 := time.monotonic()) < deadline:
                key = f"/registry/configmaps/u/w{w}-{i % 8}"
                revs[key] = (await store.update(key, store_floor.VALUE, expect_mod_revision=revs[key])).mod_revision
                lat.append(time.monotonic() - t0)
                i += 1

        start = time.monotonic()
        await asyncio.gather(*(writer(w) for w in range(writers)))
        return Summary.of(lat, seconds=time.monotonic() - start)
    finally:
        await store.close()


def measure(*, seconds: float = 2.0, base_dir: Path | None = None) -> dict[str, Summary]:
    import uvloop
    base = Path(tempfile.mkdtemp(prefix="bench-floor-", dir=base_dir))
    out: dict[str, Summary] = {}
    try:
        for batch in (1, 16, 100):
            out[f"raw rows/s batch {batch}"] = rate_only(store_floor.floor_rows_per_second(
                base / "floor.db", synchronous="FULL", batch=batch, seconds=seconds))
        for w in WRITERS:
            out[f"store creates {w}"] = rate_only(uvloop.run(store_floor.store_creates_per_second(
                base / f"c{w}.db", writers=w, seconds=seconds, synchronous="FULL")))
            out[f"store updates {w}"] = uvloop.run(store_updates(base / f"u{w}.db", writers=w, seconds=seconds))
        for name, times in uvloop.run(store_floor.store_reads(base / "reads.db")).items():
            out[f"store {name}"] = Summary.of(times, seconds=sum(times))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out
