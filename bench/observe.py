"""Watching a cluster do its work: when each pod got its node, when a Deployment finished rolling out, and the
scheduling throughput computed as kube-scheduler's scheduler_perf computes it.

Observation is by watch, as a client sees it (upstream's throughput collector counts pods whose
``spec.nodeName`` became set, from an informer), so the figures include the API server's delivery, never a
poll interval. The watches run on their own event loop in a thread (:class:`Background`) while the parent
thread drives the load; every time is ``time.monotonic()``, one clock for all processes of the machine.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.http1 import Connection, Endpoint, HTTPError
from bench.stats import percentile

Obj = dict[str, Any]
SAMPLE_INTERVAL = 1.0                   # scheduler_perf's throughputSampleInterval
WATCH_TIMEOUT = 1800                    # seconds the server keeps one benchmark watch open


# ---------------------------------------------------------------------------------------------- pure parts

@dataclass(frozen=True, slots=True)
class Throughput:
    """Scheduling throughput over one measurement, pods/s: scheduler_perf's ``SchedulingThroughput`` (the
    average and percentiles of one-second samples) and the plain rate (pods over the whole span)."""

    average: float
    p50: float
    p90: float
    p99: float
    samples: int
    overall: float
    span: float                         # first create sent → last pod seen scheduled, seconds


def sampled_throughput(times: Sequence[float], *, start: float, interval: float = SAMPLE_INTERVAL
                       ) -> list[float]:
    """One-second throughput samples from the instants pods were seen scheduled, as scheduler_perf's collector
    takes them with a ticker started at ``start``: ticks before the first scheduled pod are ignored, the first
    tick that sees any is not a sample (it only starts the clock: creation and sampling began independently),
    a tick that sees no new pod is folded into the next one that does, which is then recorded once per tick it
    spans (so percentiles stay time-weighted)."""
    xs = sorted(times)
    if not xs:
        return []
    out: list[float] = []
    k, i, started, last_count, last_tick, skipped = 1, 0, False, 0, start, 0
    while i < len(xs):
        tick = start + k * interval
        k += 1
        while i < len(xs) and xs[i] <= tick:
            i += 1
        if i == 0:
            continue
        if not started:
            started, last_count, last_tick = True, i, tick
            continue
        if i == last_count:
            skipped += 1
            continue
        rate = (i - last_count) / (tick - last_tick)
        out.extend([rate] * (skipped + 1))
        last_count, last_tick, skipped = i, tick, 0
    return out


def throughput(times: Sequence[float], *, start: float, interval: float = SAMPLE_INTERVAL) -> Throughput:
    """Summarise the instants pods were seen scheduled, for pods whose creation began at ``start``."""
    samples = sorted(sampled_throughput(times, start=start, interval=interval))
    span = max(times) - start if times else 0.0
    overall = len(times) / span if span > 0 else 0.0
    if not samples:                     # everything within one tick: the plain rate is all there is
        return Throughput(overall, overall, overall, overall, 0, overall, span)
    return Throughput(sum(samples) / len(samples), percentile(samples, 50), percentile(samples, 90),
                      percentile(samples, 99), len(samples), overall, span)


def rollout_complete(dep: Obj) -> bool:
    """Whether ``kubectl rollout status deployment/NAME`` would say "successfully rolled out" for this object:
    the controller has seen the latest spec, every wanted replica is updated, no old replica is left, and every
    updated replica is available."""
    meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return False
    want = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    return (updated >= want and int(status.get("replicas") or 0) <= updated
            and int(status.get("availableReplicas") or 0) >= updated)


def deployment_milestones(dep: Obj, want: int) -> list[str]:
    """Which of a Deployment's progress milestones this version of it shows: every pod created
    (``status.replicas``), ready, available, and the rollout complete."""
    status = dep.get("status") or {}
    out = [name for name, key in (("created", "replicas"), ("ready", "readyReplicas"),
                                  ("available", "availableReplicas")) if int(status.get(key) or 0) >= want]
    if rollout_complete(dep):
        out.append("complete")
    return out


def scheduled_name(line: bytes) -> str | None:
    """The pod's name if this watch event shows it bound to a node (``spec.nodeName`` set); None otherwise. Most
    events of a busy namespace are cheaply ruled out without decoding them."""
    if b'"nodeName"' not in line:
        return None
    obj = orjson.loads(line).get("object") or {}
    if not (obj.get("spec") or {}).get("nodeName"):
        return None
    return (obj.get("metadata") or {}).get("name")


# ---------------------------------------------------------------------------------------------- watching

class WatchError(RuntimeError):
    pass


async def open_watch(endpoint: Endpoint, path: str, resource_version: str) -> Any:
    """A watch stream of the collection at ``path`` from ``resource_version`` (so nothing after it is missed)."""
    sep = "&" if "?" in path else "?"
    conn = await Connection.open(endpoint)
    stream = await conn.watch(f"{path}{sep}watch=1&resourceVersion={resource_version}"
                              f"&timeoutSeconds={WATCH_TIMEOUT}")
    return conn, stream


async def next_line(stream: Any, deadline: float) -> bytes | None:
    """The next event line, or None when the deadline passed; a broken or ended stream is an error."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    try:
        line = await asyncio.wait_for(stream.next(), left)
    except TimeoutError:
        return None
    except (HTTPError, asyncio.IncompleteReadError, ConnectionError) as e:
        raise WatchError(f"watch broke: {e!r}") from e
    if line is None:
        raise WatchError("the server ended the watch")
    if line.startswith(b'{"type":"ERROR"'):
        raise WatchError(f"watch error: {line[:300]!r}")
    return line


@dataclass(slots=True)
class PodsScheduled:
    """``times``: pod name → when a watch first showed it with a node."""

    times: dict[str, float] = field(default_factory=dict)
    error: str = ""


async def watch_scheduled(endpoint: Endpoint, path: str, resource_version: str, *, expect: int,
                          timeout: float, ready: Callable[[], None], prefix: str = "") -> PodsScheduled:
    """Record when each pod of the collection (named ``prefix``…) is first seen bound, until ``expect`` are."""
    out = PodsScheduled()
    conn, stream = await open_watch(endpoint, path, resource_version)
    ready()
    deadline = time.monotonic() + timeout
    times, clock = out.times, time.monotonic
    try:
        while len(times) < expect:
            line = await next_line(stream, deadline)
            if line is None:
                out.error = f"only {len(times)} of {expect} pods scheduled within {timeout:g} s"
                break
            name = scheduled_name(line)
            if name is not None and name.startswith(prefix) and name not in times:
                times[name] = clock()
    except WatchError as e:
        out.error = str(e)
    finally:
        conn.close()
    return out


@dataclass(slots=True)
class RolloutSeen:
    """When each milestone of :func:`deployment_milestones` was first seen."""

    milestones: dict[str, float] = field(default_factory=dict)
    error: str = ""


async def watch_rollout(endpoint: Endpoint, path: str, resource_version: str, *, name: str, replicas: int,
                        timeout: float, ready: Callable[[], None]) -> RolloutSeen:
    """Follow one Deployment (watch of its namespace's Deployments) until its rollout is complete."""
    out = RolloutSeen()
    conn, stream = await open_watch(endpoint, f"{path}?fieldSelector=metadata.name%3D{name}", resource_version)
    ready()
    deadline = time.monotonic() + timeout
    try:
        while "complete" not in out.milestones:
            line = await next_line(stream, deadline)
            if line is None:
                out.error = f"rollout not complete within {timeout:g} s (seen: {sorted(out.milestones)})"
                break
            now = time.monotonic()
            for m in deployment_milestones(orjson.loads(line).get("object") or {}, replicas):
                out.milestones.setdefault(m, now)
    except WatchError as e:
        out.error = str(e)
    finally:
        conn.close()
    return out


class Background:
    """Run one coroutine on its own event loop in a thread: a watch that must keep reading while this thread
    blocks on the load generators. :meth:`wait_ready` returns once the watch is established."""

    def __init__(self, make: Callable[[Callable[[], None]], Coroutine[Any, Any, Any]]) -> None:
        self._ready = threading.Event()
        self._make = make
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="bench-watch", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        import uvloop
        try:
            self.result = uvloop.run(self._make(self._ready.set))
        except BaseException as e:          # reported by join(); the thread must not die silently
            self.error = e
        finally:
            self._ready.set()

    def wait_ready(self, timeout: float = 60) -> None:
        if not self._ready.wait(timeout):
            raise WatchError("the watch was not established")
        if self.error is not None:
            raise WatchError(f"the watch failed: {self.error!r}")

    def join(self, timeout: float | None = None) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise WatchError("the watch did not finish")
        if self.error is not None:
            raise WatchError(f"the watch failed: {self.error!r}") from self.error
        return self.result


def p(xs: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of unsorted samples; NaN for none."""
    return percentile(sorted(xs), q) if xs else math.nan
