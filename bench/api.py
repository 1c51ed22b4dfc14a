"""The API server benchmark: a real server (SQLite store) driven over HTTPS by load-generator processes.

What is measured (every figure is latency p50/p99 and throughput; see docs/BENCHMARKS.md):

- the matrix: create / get / update / list / watch of ConfigMaps and Pods with 1, 16 and 64 concurrent clients
  (closed loop: each client sends its next request when the previous one is answered). Watch: N watchers of a
  namespace while a writer changes an object 50 times a second; latency is send-to-delivery.
- the goals of issue 2: single-object write p99 at a paced 100 writes/s; creates/s with 16 clients; LIST of
  10,000 pods; 1,000 concurrent watchers each seeing every change.

The server runs as ``python -m pybernetes server`` (tests/harness.py) without scheduler and controllers, so
nothing but the benchmark touches it. Its CPU time per operation is read from /proc around each run: unlike
throughput, it hardly depends on what else the machine is doing.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from bench import objects
from bench.http1 import Connection, Endpoint
from bench.loadgen import ClosedLoop, Fill, Job, ListAll, Paced, Result, Target, Watchers
from bench.procs import Fleet
from bench.stats import Summary, median_summary

FLEET = 4                               # load-generator processes
CLIENT_COUNTS = (1, 16, 64)
OPS = ("create", "get", "update", "list")
RW_OBJECTS = 128                        # objects per kind that get/update/list work on
WATCH_RATE = 50.0                       # changes/s while N watchers listen
WATCH_TARGETS = 32                      # objects the watch writer changes in turn (no two writes race)
BIG_LIST = 10_000


@dataclass(frozen=True, slots=True)
class Measured:
    """One figure: its summary and the server's CPU per operation (µs) during the run."""

    summary: Summary
    server_cpu_us: float = float("nan")
    note: str = ""
    after_ack: Summary | None = None      # watches: receipt minus the write's acknowledgement (the fan-out part)


@dataclass(slots=True)
class APIResults:
    matrix: dict[tuple[str, str, int], Measured] = field(default_factory=dict)      # (kind, op, clients)
    paced: dict[tuple[str, str], Measured] = field(default_factory=dict)            # (kind, op) at 100/s
    creates16: Measured | None = None
    fill: Measured | None = None                                                     # creating the 10k pods
    list10k: Measured | None = None
    watch1000: Measured | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Options:
    seconds: float = 3.0                # per closed-loop run
    paced_seconds: float = 5.0
    repeat: int = 3                     # runs of each goal figure (median reported)
    big_list: int = BIG_LIST
    watchers: int = 1000
    data_dir: pathlib.Path | None = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/PID/stat."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def combine(results: list[Result]) -> Summary:
    """One summary over the results of jobs that ran side by side: latencies pooled, throughput over the span
    from the common start to the last finish."""
    lat = [x for r in results for x in r.latencies]
    ran = [r for r in results if r.started]
    span = max(r.finished for r in ran) - min(r.started for r in ran) if ran else 0.0
    return Summary.of(lat, seconds=span, errors=sum(r.errors for r in results))


def split(total: int, parts: int) -> list[int]:
    """``total`` clients over at most ``parts`` processes, as evenly as possible (no empty process)."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def http_calls(endpoint: Endpoint, calls: Iterable[tuple[str, str, Any]]) -> list[tuple[int, Any]]:
    """(status, decoded JSON body or None) of each ``(method, path, body)`` sent in order on one connection."""
    async def go() -> list[tuple[int, Any]]:
        conn = await Connection.open(endpoint)
        out = []
        try:
            for method, path, body in calls:
                status, data = await conn.request(method, path, orjson.dumps(body) if body is not None else b"")
                out.append((status, orjson.loads(data) if data else None))
        finally:
            conn.close()
        return out
    return asyncio.run(go())


def write_credentials(kubeconfig: pathlib.Path, into: pathlib.Path) -> tuple[str, str, str]:
    """The CA, client certificate and key embedded in a kubeconfig, written to files (TLS wants files)."""
    doc = yaml.safe_load(kubeconfig.read_text())
    user = doc["users"][0]["user"]
    out = []
    for name, data in (("ca.crt", doc["clusters"][0]["cluster"]["certificate-authority-data"]),
                       ("admin.crt", user["client-certificate-data"]), ("admin.key", user["client-key-data"])):
        p = into / name
        p.write_bytes(base64.b64decode(data))
        p.chmod(0o600)
        out.append(str(p))
    return out[0], out[1], out[2]


class APIBench:
    """Owns the server, the load generators and the results; :meth:`run_all` is the whole benchmark."""

    def __init__(self, opts: Options, log: Any = print) -> None:
        self.opts = opts
        self.log = log
        self.results = APIResults()
        self._tmp: pathlib.Path | None = None

    def run_all(self) -> APIResults:
        from tests.harness import start_server
        base = pathlib.Path(tempfile.mkdtemp(prefix="bench-api-", dir=self.opts.data_dir))
        self._tmp = base
        server = None
        try:
            server = start_server(base / "server", "--disable-scheduler", "--disable-controller-manager")
            self.pid = server.proc.pid
            host, port = server.url.removeprefix("https://").rsplit(":", 1)
            ca, cert, key = write_credentials(server.kubeconfig, base)
            self.target = Target(host, int(port), ca, cert, key)
            with Fleet(FLEET) as fleet:
                self.fleet = fleet
                self._setup()
                self._matrix()
                self._goals()
        finally:
            if server is not None:
                code = server.stop()
                if code not in (0, None):
                    self.results.errors.append(f"server exited with {code}: {''.join(server.log[-20:])}")
            shutil.rmtree(base, ignore_errors=True)
        return self.results

    # ------------------------------------------------------------------------------------------ plumbing

    def _run(self, jobs: list[Job], *, ops: int | None = None) -> tuple[list[Result], float]:
        """Run jobs side by side; also return the server's CPU µs per operation (``ops`` defaults to the
        number of latencies recorded), counted from the start instant: connection set-up is not included."""
        cpu0 = [cpu_seconds(self.pid)]
        results = self.fleet.run(jobs, on_go=lambda: cpu0.__setitem__(0, cpu_seconds(self.pid)))
        cpu = cpu_seconds(self.pid) - cpu0[0]
        for r in results:
            if r.first_error:
                self.results.errors.append(r.first_error)
        n = ops if ops is not None else sum(len(r.latencies) for r in results)
        return results, (cpu / n * 1e6 if n else float("nan"))

    def _http(self, *calls: tuple[str, str, Any]) -> list[tuple[int, Any]]:
        """A few setup requests from this process, in order."""
        return http_calls(self.target.endpoint(), calls)

    def _namespace(self, name: str) -> None:
        ((status, body),) = self._http(("POST", "/api/v1/namespaces",
                                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        if status not in (201, 409):
            raise RuntimeError(f"cannot create namespace {name}: {status} {body}")

    def _list_rv(self, kind: str, ns: str) -> str:
        ((status, body),) = self._http(("GET", objects.path(kind, ns, query="limit=1"), None))
        if status != 200:
            raise RuntimeError(f"cannot list {kind} in {ns}: {status} {body}")
        return str(body["metadata"]["resourceVersion"])

    def _setup(self) -> None:
        for ns in ("bench-create", "bench-rw", "bench-watch", "bench-paced", "bench-big"):
            self._namespace(ns)
        self.rw_names = tuple(f"rw-{i}" for i in range(RW_OBJECTS))
        self.watch_names = tuple(f"target-{i}" for i in range(WATCH_TARGETS))
        for kind in objects.KINDS:
            calls = [("POST", objects.path(kind, "bench-rw"), objects.make(kind, "bench-rw", n, seq=i))
                     for i, n in enumerate(self.rw_names)]
            calls += [("POST", objects.path(kind, "bench-watch"), objects.make(kind, "bench-watch", n))
                      for n in self.watch_names]
            for status, body in self._http(*calls):
                if status != 201:
                    raise RuntimeError(f"setup create failed: {status} {body}")

    # ------------------------------------------------------------------------------------------ the matrix

    def closed(self, kind: str, op: str, clients: int, *, tag: str, seconds: float | None = None) -> Measured:
        parts = split(clients, 2)
        jobs: list[Job] = []
        first = 0
        for n in parts:
            jobs.append(ClosedLoop(self.target, op, kind, "bench-create" if op == "create" else "bench-rw", n,
                                   seconds or self.opts.seconds, first_client=first, total_clients=clients,
                                   names=self.rw_names, tag=tag))
            first += n
        results, cpu = self._run(jobs)
        return Measured(combine(results), cpu)

    def watch(self, kind: str, watchers: int, *, rate: float, seconds: float) -> Measured:
        """``watchers`` watches (over up to three processes) while a fourth process changes objects of the
        namespace at ``rate``/s; latency is from the writer's send to each watcher's receipt of the event."""
        rv = self._list_rv(kind, "bench-watch")
        expect = int(rate * seconds)
        jobs: list[Job] = [Watchers(self.target, kind, "bench-watch", n, rv, expect, seconds + 10.0)
                           for n in split(watchers, 3 if watchers >= 300 else 1)]
        jobs.append(Paced(self.target, "update", kind, "bench-watch", rate, seconds, names=self.watch_names,
                          tag="w", unconditional=True))
        delivered_max = expect * watchers
        results, cpu = self._run(jobs, ops=delivered_max)
        watch_results = results[:-1]
        s = combine(watch_results)
        delivered = sum(r.extra.get("events", 0) for r in watch_results)
        cpu = cpu * delivered_max / delivered if delivered else float("nan")
        short = sum(r.extra.get("short_watchers", 0) for r in watch_results)
        span = max(r.finished for r in watch_results) - min(r.started for r in watch_results)
        s = dataclasses.replace(s, rate=delivered / span if span > 0 else 0.0)
        writes = results[-1]
        note = f"{delivered:,} deliveries; writer p99 {_ms(Summary.of(writes.latencies, seconds=seconds).p99)}"
        if short:
            note += f"; {short} watchers missed events"
        return Measured(s, cpu, note=note, after_ack=after_ack(watch_results, writes, seconds=span))

    def _matrix(self) -> None:
        for kind in objects.KINDS:
            for op in OPS:
                for clients in CLIENT_COUNTS:
                    m = self.closed(kind, op, clients, tag=f"m{clients}")
                    self.results.matrix[(kind, op, clients)] = m
                    self.log(f"  {kind:10} {op:7} {clients:3} clients  {_line(m)}")
            for watchers in CLIENT_COUNTS:
                m = self.watch(kind, watchers, rate=WATCH_RATE, seconds=2.0)
                self.results.matrix[(kind, "watch", watchers)] = m
                self.log(f"  {kind:10} {'watch':7} {watchers:3} watchers {_line(m)}")

    # ------------------------------------------------------------------------------------------ the goals

    def paced(self, kind: str, op: str, *, tag: str) -> Measured:
        jobs: list[Job] = [Paced(self.target, op, kind, "bench-paced" if op == "create" else "bench-rw", 100.0,
                                 self.opts.paced_seconds, names=self.rw_names, tag=tag)]
        results, cpu = self._run(jobs)
        extra = results[0].extra.get("extra_connections", 0)
        return Measured(combine(results), cpu, note=f"{extra} extra connections" if extra else "")

    def _goals(self) -> None:
        o = self.opts
        for kind, op in (("pods", "create"), ("configmaps", "update"), ("configmaps", "create"),
                         ("pods", "update")):
            runs = [self.paced(kind, op, tag=f"p{r}") for r in range(o.repeat)]
            self.results.paced[(kind, op)] = _median(runs)
            self.log(f"  paced 100/s {kind} {op}: {_line(self.results.paced[(kind, op)])}")
        runs = [self.closed("pods", "create", 16, tag=f"g{r}") for r in range(o.repeat)]
        self.results.creates16 = _median(runs)
        self.log(f"  creates/s 16 clients: {_line(self.results.creates16)}")
        self._big_list()
        runs = [self.watch("configmaps", o.watchers, rate=10.0, seconds=5.0) for _ in range(o.repeat)]
        self.results.watch1000 = _median(runs)
        self.log(f"  {o.watchers} watchers: {_line(self.results.watch1000)}")

    def _big_list(self) -> None:
        n = self.opts.big_list
        half = n // 2
        jobs: list[Job] = [Fill(self.target, "pods", "bench-big", 0, half, 32),
                           Fill(self.target, "pods", "bench-big", half, n, 32)]
        results, cpu = self._run(jobs)
        self.results.fill = Measured(combine(results), cpu)
        self.log(f"  created {n:,} pods: {_line(self.results.fill)}")
        results, cpu = self._run([ListAll(self.target, "pods", "bench-big", 10)])
        r = results[0]
        note = f"{r.extra.get('items', 0):,} items, {r.extra.get('bytes', 0) / 1e6:.1f} MB"
        self.results.list10k = Measured(combine(results), cpu, note=note)
        self.log(f"  LIST {n:,} pods: {_line(self.results.list10k)}")


def after_ack(watchers: list[Result], writer: Result, *, seconds: float) -> Summary | None:
    """Each delivery's latency counted from when its write was acknowledged instead of sent: what the fan-out
    adds to the write (negative when an event beat the write's own response: counted as 0)."""
    acks: dict[float, float] = writer.extra.get("acks") or {}
    out = []
    for r in watchers:
        for stamp, lat in zip(r.extra.get("stamps") or (), r.latencies, strict=False):
            acked = acks.get(stamp)
            if acked is not None:
                out.append(max(0.0, stamp + lat - acked))
    return Summary.of(out, seconds=seconds) if out else None


def _median(runs: list[Measured]) -> Measured:
    """The median run of repeated measurements (by p99, the figure goals judge), its CPU and note; the
    summaries field-wise medians."""
    mid = sorted(runs, key=lambda r: r.summary.p99)[len(runs) // 2]
    acks = [r.after_ack for r in runs if r.after_ack is not None]
    return Measured(median_summary([r.summary for r in runs]), mid.server_cpu_us, note=mid.note,
                    after_ack=median_summary(acks) if acks else None)


def _ms(x: float) -> str:
    return f"{x * 1e3:.1f} ms"


def _line(m: Measured) -> str:
    s = m.summary
    cpu = f"  server {m.server_cpu_us:,.0f} µs/op" if m.server_cpu_us == m.server_cpu_us else ""
    err = f"  ERRORS {s.errors}" if s.errors else ""
    ack = f"  (after ack: p50 {_ms(m.after_ack.p50)} p99 {_ms(m.after_ack.p99)})" if m.after_ack else ""
    return f"{s.rate:9,.0f}/s  p50 {_ms(s.p50):>9}  p99 {_ms(s.p99):>9}{ack}{cpu}{err}  {m.note}"
