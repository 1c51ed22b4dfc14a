"""The floor under the etcd store: raw JSON-gateway calls against one local etcd, beside ``EtcdStore``.

Run alone: ``.venv/bin/python -m bench.etcd_floor [--seconds S]`` (needs Debian's ``etcd-server``).

Both sides do the same create transaction (``txn: if create_revision(k) == 0 then put``) with 1 KiB values from
1 and 16 concurrent writers, and the same point read. "raw" is a bare keep-alive HTTP client that formats the
request body and does not look at the answer beyond its status; the ratio store/raw is what EtcdStore's own
work (base64, JSON decoding, error mapping, failover bookkeeping) costs. etcd runs from a temporary data dir on
free loopback ports and is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from bench.http1 import Connection, Endpoint
from bench.stats import Summary
from pybernetes.storage.etcd import EtcdStore

VALUE = b"x" * 1024
WRITERS = (1, 16)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def running_etcd(binary: str, base: Path, *, timeout: float = 30.0) -> Iterator[int]:
    """One etcd member on free loopback ports; yields its client port; stopped by PID and removed after."""
    client, peer = free_ports(2)
    data = base / "etcd"
    log = (base / "etcd.log").open("wb")
    proc = subprocess.Popen([
        binary, "--name", "bench", "--data-dir", str(data),
        "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"bench=http://127.0.0.1:{peer}", "--initial-cluster-state", "new",
    ], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(client):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("etcd did not start: " + (base / "etcd.log").read_text()[-1000:])
            time.sleep(0.1)
        yield client
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=0.5) as resp:
            return b'"true"' in resp.read()
    except OSError:
        return False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def create_body(key: str) -> bytes:
    """The gateway body of a create-if-absent transaction, as EtcdStore sends it."""
    k = _b64(key.encode())
    return (f'{{"compare":[{{"key":"{k}","target":"CREATE","create_revision":"0"}}],'
            f'"success":[{{"request_put":{{"key":"{k}","value":"{_b64(VALUE)}"}}}}]}}').encode()


async def _rate(writers: int, seconds: float, one: Callable[[int, int], Awaitable[None]]) -> Summary:
    deadline = time.monotonic() + seconds
    lat: list[float] = []

    async def writer(w: int) -> None:
        i = 0
        while (t0 := time.monotonic()) < deadline:
            await one(w, i)
            lat.append(time.monotonic() - t0)
            i += 1

    start = time.monotonic()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return Summary.of(lat, seconds=time.monotonic() - start)


async def raw_creates(port: int, *, writers: int, seconds: float, tag: str) -> Summary:
    conns = [await Connection.open(Endpoint("127.0.0.1", port, None)) for _ in range(writers)]

    async def one(w: int, i: int) -> None:
        status, _ = await conns[w].request("POST", "/v3/kv/txn", create_body(f"/raw/{tag}/{w}/{i}"))
        if status != 200:
            raise RuntimeError(f"etcd txn: {status}")
    try:
        return await _rate(writers, seconds, one)
    finally:
        for c in conns:
            c.close()


async def raw_gets(port: int, *, n: int) -> Summary:
    conn = await Connection.open(Endpoint("127.0.0.1", port, None))
    body = f'{{"key":"{_b64(b"/raw/get/0/0")}"}}'.encode()
    lat = []
    try:
        for _ in range(n):
            t0 = time.monotonic()
            await conn.request("POST", "/v3/kv/range", body)
            lat.append(time.monotonic() - t0)
    finally:
        conn.close()
    return Summary.of(lat, seconds=sum(lat))


async def store_creates(port: int, *, writers: int, seconds: float, tag: str) -> Summary:
    store = await EtcdStore.open(f"etcd://127.0.0.1:{port}")
    try:
        return await _rate(writers, seconds, lambda w, i: store.create(f"/store/{tag}/{w}/{i}", VALUE))
    finally:
        await store.close()


async def store_gets(port: int, *, n: int) -> Summary:
    store = await EtcdStore.open(f"etcd://127.0.0.1:{port}")
    lat = []
    try:
        for _ in range(n):
            t0 = time.monotonic()
            await store.get("/store/get/0/0")
            lat.append(time.monotonic() - t0)
    finally:
        await store.close()
    return Summary.of(lat, seconds=sum(lat))


def measure(*, seconds: float = 2.0, base_dir: Path | None = None) -> dict[str, Summary] | None:
    """Every etcd floor figure, keyed by name; None when etcd is not installed."""
    import uvloop
    binary = shutil.which("etcd")
    if binary is None:
        return None
    base = Path(tempfile.mkdtemp(prefix="bench-etcd-", dir=base_dir))
    out: dict[str, Summary] = {}
    try:
        with running_etcd(binary, base) as port:
            uvloop.run(raw_creates(port, writers=1, seconds=0.5, tag="warm"))
            uvloop.run(raw_creates(port, writers=1, seconds=0.2, tag="get"))
            uvloop.run(store_creates(port, writers=1, seconds=0.2, tag="get"))
            for w in WRITERS:
                out[f"raw creates {w}"] = uvloop.run(raw_creates(port, writers=w, seconds=seconds, tag=f"r{w}"))
                out[f"store creates {w}"] = uvloop.run(store_creates(port, writers=w, seconds=seconds, tag=f"s{w}"))
            out["raw get"] = uvloop.run(raw_gets(port, n=2000))
            out["store get"] = uvloop.run(store_gets(port, n=2000))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    res = measure(seconds=args.seconds)
    if res is None:
        print("etcd is not installed")
        return
    for name, s in res.items():
        print(f"{name:20} {s.rate:10,.0f}/s  p50 {s.p50 * 1e3:7.2f} ms  p99 {s.p99 * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
