"""The load-generator side: jobs that run in their own processes, on uvloop, against a real API server.

A job is a frozen dataclass (pickled to the child). Each job has two phases, so that several processes can start
measuring at the same instant: ``prepare`` opens and warms its connections (TLS handshakes are not measured),
then the child reports ready and waits for the parent's "go" carrying a ``time.monotonic()`` start time
(CLOCK_MONOTONIC is one clock for every process on the machine), and ``run`` measures from that instant.

Latencies are measured per request from the moment it was due: in a closed loop that is when it was sent, in a
paced (open) loop it is its scheduled send time, so a stalled server is not hidden by requests that were never
sent ("coordinated omission").
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

import orjson

from bench import objects
from bench.http1 import Connection, Endpoint, HTTPError, LineStream, client_tls

OK = {"create": (201,), "get": (200,), "update": (200,), "list": (200,)}


@dataclass(frozen=True, slots=True)
class Target:
    """The server and the admin client certificate (files written from its kubeconfig)."""

    host: str
    port: int
    ca: str
    cert: str
    key: str

    def endpoint(self) -> Endpoint:
        return Endpoint(self.host, self.port, client_tls(ca=self.ca, cert=self.cert, key=self.key))


@dataclass(frozen=True, slots=True)
class ClosedLoop:
    """``clients`` connections each doing ``op`` back to back for ``seconds``.

    create: new objects named ``{tag}-{client}-{i}``; get: cycles over ``names``; update: each client owns the
    names with index ≡ its global client number (mod ``total_clients``) and replaces them in turn with the
    resourceVersion it last saw; list: lists the namespace."""

    target: Target
    op: str
    kind: str
    namespace: str
    clients: int
    seconds: float
    first_client: int = 0
    total_clients: int = 0
    names: tuple[str, ...] = ()
    tag: str = "c"


@dataclass(frozen=True, slots=True)
class Paced:
    """An open loop: ``op`` (create or update) due every ``1/rate`` s for ``seconds``, whatever the answers.

    update cycles over ``names``, skipping any whose previous write is still in flight (a conditional update
    of it would be a certain 409); ``unconditional`` sends no resourceVersion (last writer wins), so several
    writes to one object may be in flight. Every write carries its send time (:data:`objects.STAMP`)."""

    target: Target
    op: str
    kind: str
    namespace: str
    rate: float
    seconds: float
    names: tuple[str, ...] = ()
    tag: str = "p"
    unconditional: bool = False


@dataclass(frozen=True, slots=True)
class Watchers:
    """``count`` watches of a namespace from ``resource_version``; each records, for every event, now minus the
    send time stamped in the object, until it has seen ``expect`` events or ``seconds`` have passed."""

    target: Target
    kind: str
    namespace: str
    count: int
    resource_version: str
    expect: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Fill:
    """Create objects ``{tag}-{start}`` … ``{tag}-{stop - 1}`` as fast as ``clients`` connections can."""

    target: Target
    kind: str
    namespace: str
    start: int
    stop: int
    clients: int
    tag: str = "f"


@dataclass(frozen=True, slots=True)
class ListAll:
    """LIST the namespace ``times`` times in a row, timing each until the last byte of the body arrived."""

    target: Target
    kind: str
    namespace: str
    times: int


Job = ClosedLoop | Paced | Watchers | Fill | ListAll


@dataclass(slots=True)
class Result:
    latencies: list[float] = field(default_factory=list)
    started: float = 0.0                  # monotonic time the measurement began
    finished: float = 0.0                 # ... and the last request finished
    errors: int = 0
    first_error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = what[:500]


# ---------------------------------------------------------------------------------------------- child process

def child_main(pipe: Pipe) -> None:
    """A load-generator process: run each job it is sent (None ends it) on a fresh uvloop loop."""
    import uvloop
    while (job := pipe.recv()) is not None:
        pipe.send(("done", uvloop.run(_run_job(job, pipe))))


async def _run_job(job: Job, pipe: Pipe) -> Result:
    """prepare → "ready" → wait for "go" → run. A failure is reported in the result, never left hanging: one
    before "ready" answers "done" in its place."""
    try:
        runner = _RUNNERS[type(job)](job)
    except Exception as e:
        result = Result()
        result.fail(f"job failed: {e!r}")
        return result
    try:
        try:
            await runner.prepare()
        except Exception as e:
            runner.result.fail(f"prepare failed: {e!r}")
            return runner.result
        pipe.send(("ready", None))
        _, start_at = pipe.recv()                   # blocks the loop: nothing is measured before the start
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        try:
            return await runner.run(start_at)
        except Exception as e:
            runner.result.fail(f"run failed: {e!r}")
            return runner.result
    finally:
        runner.close()


class _Runner:
    def __init__(self, job: Any) -> None:
        self.job = job
        self.endpoint = job.target.endpoint()
        self.conns: list[Connection] = []
        self.result = Result()

    async def open(self, n: int) -> list[Connection]:
        conns = await asyncio.gather(*(Connection.open(self.endpoint) for _ in range(n)))
        self.conns.extend(conns)
        return list(conns)

    async def prepare(self) -> None:
        raise NotImplementedError

    async def run(self, start_at: float) -> Result:
        raise NotImplementedError

    def close(self) -> None:
        for c in self.conns:
            c.close()

    async def call(self, conn: Connection, method: str, path: str, body: bytes, ok: tuple[int, ...]
                   ) -> bytes | None:
        try:
            status, data = await conn.request(method, path, body)
        except HTTPError as e:
            self.result.fail(str(e))
            return None
        if status not in ok:
            self.result.fail(f"{method} {path}: {status} {data[:300]!r}")
            return None
        return data


class _Closed(_Runner):
    job: ClosedLoop

    async def prepare(self) -> None:
        j = self.job
        conns = await self.open(j.clients)
        self.state: list[list[dict[str, Any]]] = [[] for _ in conns]
        for c in conns:                             # warm up each connection past TLS and the first request
            await c.request("GET", objects.path(j.kind, j.namespace, query="limit=1"))
        if j.op == "update":
            total = j.total_clients or j.clients
            for i, c in enumerate(conns):
                mine = j.names[(j.first_client + i) % total::total]
                for name in mine:
                    data = await self.call(c, "GET", objects.path(j.kind, j.namespace, name), b"", (200,))
                    if data is not None:
                        self.state[i].append(orjson.loads(data))

    async def run(self, start_at: float) -> Result:
        j = self.job
        deadline = start_at + j.seconds
        self.result.started = start_at
        await asyncio.gather(*(self._client(i, c, deadline) for i, c in enumerate(self.conns)))
        self.result.finished = time.monotonic()
        return self.result

    async def _client(self, i: int, conn: Connection, deadline: float) -> None:
        j, lat, clock = self.job, self.result.latencies, time.monotonic
        client = j.first_client + i
        seq = 0
        owned = self.state[i]
        list_path = objects.path(j.kind, j.namespace)
        while (t0 := clock()) < deadline:
            if j.op == "create":
                name = f"{j.tag}-{client}-{seq}"
                body = orjson.dumps(objects.make(j.kind, j.namespace, name, seq=seq))
                data = await self.call(conn, "POST", list_path, body, (201,))
            elif j.op == "get":
                name = j.names[(client + seq * 7) % len(j.names)]
                data = await self.call(conn, "GET", objects.path(j.kind, j.namespace, name), b"", (200,))
            elif j.op == "update":
                if not owned:
                    return
                k = seq % len(owned)
                obj = owned[k]
                body = orjson.dumps(objects.changed(obj, seq=seq))
                data = await self.call(conn, "PUT", objects.path(j.kind, j.namespace, obj["metadata"]["name"]),
                                       body, (200,))
                if data is not None:
                    owned[k] = orjson.loads(data)
            else:
                data = await self.call(conn, "GET", list_path, b"", (200,))
            if data is not None:
                lat.append(clock() - t0)
            seq += 1


class _Paced(_Runner):
    job: Paced

    async def prepare(self) -> None:
        j = self.job
        self.idle: list[Connection] = await self.open(8)
        for c in self.idle:
            await c.request("GET", objects.path(j.kind, j.namespace, query="limit=1"))
        self.current: dict[str, dict[str, Any]] = {}
        self.busy: set[str] = set()
        self.next_name = 0
        self.acks: dict[float, float] = {}          # send stamp → when the write was acknowledged
        if j.op == "update":
            for name in j.names:
                data = await self.call(self.idle[0], "GET", objects.path(j.kind, j.namespace, name), b"", (200,))
                if data is not None:
                    self.current[name] = orjson.loads(data)
        self.extra_conns = 0

    async def _conn(self) -> Connection:
        if self.idle:
            return self.idle.pop()
        self.extra_conns += 1
        (c,) = await self.open(1)
        return c

    async def run(self, start_at: float) -> Result:
        j = self.job
        n = int(j.rate * j.seconds)
        self.result.started = start_at
        tasks = []
        for k in range(n):
            due = start_at + k / j.rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(self._one(k, due)))
        await asyncio.gather(*tasks)
        self.result.finished = time.monotonic()
        self.result.extra["extra_connections"] = self.extra_conns
        self.result.extra["acks"] = self.acks
        return self.result

    async def _one(self, k: int, due: float) -> None:
        j = self.job
        conn = await self._conn()
        try:
            stamp = time.monotonic()
            if j.op == "create":
                body = orjson.dumps(objects.make(j.kind, j.namespace, f"{j.tag}-{k}", seq=k, stamp=stamp))
                data = await self.call(conn, "POST", objects.path(j.kind, j.namespace), body, (201,))
            else:
                name = self._pick()
                self.busy.add(name)
                obj = objects.changed(self.current[name], seq=k, stamp=stamp)
                if j.unconditional:
                    obj["metadata"] = {m: v for m, v in obj["metadata"].items() if m != "resourceVersion"}
                data = await self.call(conn, "PUT", objects.path(j.kind, j.namespace, name), orjson.dumps(obj),
                                       (200,))
                if data is not None and not j.unconditional:
                    self.current[name] = orjson.loads(data)
                self.busy.discard(name)
            if data is not None:
                acked = time.monotonic()
                self.result.latencies.append(acked - due)
                self.acks[stamp] = acked
        finally:
            self.idle.append(conn)

    def _pick(self) -> str:
        """The next object in turn whose last write was answered (any, if all are busy)."""
        names = self.job.names
        for _ in range(len(names)):
            name = names[self.next_name % len(names)]
            self.next_name += 1
            if self.job.unconditional or name not in self.busy:
                return name
        return names[self.next_name % len(names)]


_STAMP_MARK = f'"{objects.STAMP}":"'.encode()


def stamp_in_line(line: bytes) -> float | None:
    """The send stamp in one watch event line, found without decoding the whole event (a watcher process
    handles hundreds of streams; a full JSON parse per event per stream would measure the parser)."""
    i = line.find(_STAMP_MARK)
    if i < 0:
        return None
    i += len(_STAMP_MARK)
    return float(line[i:line.index(b'"', i)])


class _Watchers(_Runner):
    job: Watchers

    async def prepare(self) -> None:
        j = self.job
        conns = await self.open(j.count)
        query = f"watch=1&resourceVersion={j.resource_version}&timeoutSeconds={int(j.seconds) + 60}"
        path = objects.path(j.kind, j.namespace, query=query)
        self.streams = await asyncio.gather(*(c.watch(path) for c in conns))

    async def run(self, start_at: float) -> Result:
        j = self.job
        self.result.started = start_at
        deadline = start_at + j.seconds
        counts = await asyncio.gather(*(self._watch(s, deadline) for s in self.streams))
        self.result.finished = time.monotonic()
        self.result.extra["events"] = sum(counts)
        self.result.extra["short_watchers"] = sum(1 for c in counts if c < j.expect)
        return self.result

    async def _watch(self, stream: LineStream, deadline: float) -> int:
        lat, clock, expect = self.result.latencies, time.monotonic, self.job.expect
        stamps = self.result.extra.setdefault("stamps", [])   # parallel to latencies
        seen = 0
        while seen < expect:
            left = deadline - clock()
            if left <= 0:
                break
            try:
                line = await asyncio.wait_for(stream.next(), left)
            except TimeoutError:
                break                               # the stream is abandoned mid-read: it is not used again
            except (HTTPError, asyncio.IncompleteReadError, ConnectionError) as e:
                self.result.fail(f"watch: {e!r}")
                break
            if line is None:
                self.result.fail("watch ended early")
                break
            stamp = stamp_in_line(line)
            if stamp is not None:
                lat.append(clock() - stamp)
                stamps.append(stamp)
                seen += 1
        return seen


class _Fill(_Runner):
    job: Fill

    async def prepare(self) -> None:
        await self.open(self.job.clients)

    async def run(self, start_at: float) -> Result:
        j = self.job
        todo = iter(range(j.start, j.stop))
        self.result.started = start_at
        list_path = objects.path(j.kind, j.namespace)

        async def client(conn: Connection) -> None:
            for i in todo:
                body = orjson.dumps(objects.make(j.kind, j.namespace, f"{j.tag}-{i}", seq=i))
                t0 = time.monotonic()
                if await self.call(conn, "POST", list_path, body, (201,)) is not None:
                    self.result.latencies.append(time.monotonic() - t0)

        await asyncio.gather(*(client(c) for c in self.conns))
        self.result.finished = time.monotonic()
        return self.result


class _ListAll(_Runner):
    job: ListAll

    async def prepare(self) -> None:
        await self.open(1)

    async def run(self, start_at: float) -> Result:
        j = self.job
        conn = self.conns[0]
        self.result.started = start_at
        for i in range(j.times):
            t0 = time.monotonic()
            data = await self.call(conn, "GET", objects.path(j.kind, j.namespace), b"", (200,))
            if data is None:
                continue
            self.result.latencies.append(time.monotonic() - t0)
            if i == 0:
                self.result.extra["items"] = len(orjson.loads(data)["items"])
                self.result.extra["bytes"] = len(data)
        self.result.finished = time.monotonic()
        return self.result


_RUNNERS: dict[type, type[_Runner]] = {ClosedLoop: _Closed, Paced: _Paced, Watchers: _Watchers, Fill: _Fill,
                                       ListAll: _ListAll}
