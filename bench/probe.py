"""A paced probe of API latency: a small, steady mix of requests whose latency says how the API server treats
everyone while something else loads it (5,000 nodes renewing their Leases, for issue 3's goal).

The mix follows upstream's API call latency SLIs: single-object reads (GET), a namespace-scoped LIST (of a
namespace holding :data:`OBJECTS` ConfigMaps), and single-object mutations (create, update). Requests are due at
a fixed rate whatever the answers (open loop), and each latency counts from when it was due, so a stalled server
is not hidden by requests that were never sent. Connections are opened and warmed before the start; one more is
opened whenever all are busy, and counted.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

import orjson

from bench.http1 import Connection, Endpoint, HTTPError
from bench.stats import percentile

OPS = ("get", "list", "update", "create")
OBJECTS = 16
CONNECTIONS = 8


@dataclass(slots=True)
class ProbeResult:
    """Latencies (seconds) per operation of one probe run."""

    rate: float
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    errors: int = 0
    first_error: str = ""
    extra_connections: int = 0

    def all(self) -> list[float]:
        return sorted(x for xs in self.latencies.values() for x in xs)

    def pct(self, q: float, op: str | None = None) -> float:
        xs = self.all() if op is None else sorted(self.latencies[op])
        return percentile(xs, q) if xs else math.nan

    @property
    def count(self) -> int:
        return sum(len(xs) for xs in self.latencies.values())


def configmap(namespace: str, name: str, seq: int) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"probe": str(seq), "payload": "x" * 200}}


def plan(rate: float, seconds: float) -> list[tuple[float, str]]:
    """(offset in seconds, operation) of every request of a run: the operations in turn, ``rate`` a second."""
    return [(k / rate, OPS[k % len(OPS)]) for k in range(int(rate * seconds))]


class Probe:
    """Prepare once (:meth:`setup`: the probe's namespaces and objects), then :meth:`run` as often as needed."""

    def __init__(self, endpoint: Endpoint, *, namespace: str = "bench-probe") -> None:
        self.endpoint = endpoint
        self.ns = namespace
        self.create_ns = f"{namespace}-create"
        self.runs = 0

    def _path(self, ns: str, name: str = "") -> str:
        return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")

    async def setup(self) -> None:
        conn = await Connection.open(self.endpoint)
        try:
            for ns in (self.ns, self.create_ns):
                status, data = await conn.request("POST", "/api/v1/namespaces", orjson.dumps(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                if status not in (201, 409):
                    raise RuntimeError(f"probe namespace {ns}: {status} {data[:200]!r}")
            for i in range(OBJECTS):
                status, data = await conn.request("POST", self._path(self.ns),
                                                  orjson.dumps(configmap(self.ns, f"probe-{i}", 0)))
                if status not in (201, 409):
                    raise RuntimeError(f"probe object: {status} {data[:200]!r}")
        finally:
            conn.close()

    async def run(self, *, rate: float, seconds: float) -> ProbeResult:
        self.runs += 1
        result = ProbeResult(rate, seconds)
        idle = [await Connection.open(self.endpoint) for _ in range(CONNECTIONS)]
        opened = list(idle)
        for c in idle:                                       # past TLS and the first request
            await c.request("GET", self._path(self.ns, "probe-0"))
        start = time.monotonic() + 0.05
        tasks = []
        try:
            for k, (offset, op) in enumerate(plan(rate, seconds)):
                due = start + offset
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                tasks.append(asyncio.create_task(self._one(k, op, due, idle, opened, result)))
            await asyncio.gather(*tasks)
        finally:
            for c in opened:
                c.close()
        return result

    async def _one(self, k: int, op: str, due: float, idle: list[Connection], opened: list[Connection],
                   result: ProbeResult) -> None:
        if idle:
            conn = idle.pop()
        else:
            conn = await Connection.open(self.endpoint)
            opened.append(conn)
            result.extra_connections += 1
        name = f"probe-{k % OBJECTS}"
        if op == "get":
            req = ("GET", self._path(self.ns, name), b"")
        elif op == "list":
            req = ("GET", self._path(self.ns), b"")
        elif op == "update":                                  # last writer wins: no conflict between probes
            req = ("PUT", self._path(self.ns, name), orjson.dumps(configmap(self.ns, name, k)))
        else:
            name = f"probe-{self.runs}-{k}"
            req = ("POST", self._path(self.create_ns), orjson.dumps(configmap(self.create_ns, name, k)))
        try:
            status, data = await conn.request(*req)
        except HTTPError as e:
            result.errors += 1
            result.first_error = result.first_error or str(e)[:300]
            return                                            # the broken connection is not reused
        if status not in (200, 201):
            result.errors += 1
            result.first_error = result.first_error or f"{req[0]} {req[1]}: {status} {data[:200]!r}"
        else:
            result.latencies[op].append(time.monotonic() - due)
        idle.append(conn)
