"""Resource usage reporting: what ``kubectl top`` and the HorizontalPodAutoscaler read, measured on the node.

Every period (15 s, as metrics-server scrapes) the agent samples each running container through the runtime's
``container_stats`` — cumulative CPU time and memory working set, as cgroups report them — turns the CPU counter
into a rate over the time since the previous sample, and writes ONE summary for all its nodes and pods with
``PUT /v1-pybernetes/metrics/<agent-id>`` (:mod:`pybernetes.api.usage_summary`). One write per agent per period,
not per node, is what lets 5,000 simulated nodes report without loading the API.

As metrics-server does, a rate needs two points: a container seen for the first time uses its start (with zero
CPU used) as the earlier point once it has run a second, so new pods show up after one period; a pod is reported
only when every running container has a rate, so a pod's figures are never partial.

The simulated runtime also exposes :class:`SimulationControls`: the reporter hands it each pod's current
annotations (the usage annotations documented in :mod:`pybernetes.kubelet.runtime.simulated`) and adds its
simulated system baseline to each node.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from pybernetes.api import usage_summary
from pybernetes.api.usage_summary import ContainerUsage, NodeUsage, PodUsage
from pybernetes.client.clock import REAL, Clock
from pybernetes.kubelet.runtime.interface import ContainerState, ContainerStats, Runtime

log = logging.getLogger(__name__)
Obj = dict[str, Any]

METRICS_PATH = "/v1-pybernetes/metrics/"
DEFAULT_PERIOD = 15.0
PERIOD_ENV = "PYBERNETES_AGENT_METRICS_PERIOD_SECONDS"
FRESH_CONTAINER_SECONDS = 1.0       # a container younger than this has no rate yet (too short a window)
YIELD_EVERY = 500                   # pods sampled between yields to the event loop (heartbeats keep their beat)


@runtime_checkable
class NodeStatsSource(Protocol):
    """A runtime that measures a whole node — on a real host its root cgroup: pods, system daemons and the rest —
    as one cumulative sample; NodeMetrics then use it rather than the sum of the node's pods."""

    async def node_stats(self, node: str) -> ContainerStats | None: ...


@runtime_checkable
class SimulationControls(Protocol):
    """What only the simulated runtime offers: usage driven by pod annotations, and a per-node system baseline."""

    def set_pod_annotations(self, pod_uid: str, annotations: Mapping[str, str]) -> None: ...
    def system_usage(self, node: str, at: datetime.datetime) -> tuple[int, int]: ...


class PodView(Protocol):
    """What the reporter reads of a pod the agent runs (:class:`~pybernetes.kubelet.podworker.PodRecord`)."""

    uid: str
    node: str
    pod: Obj | None
    sandbox_id: str
    terminal: bool


class Poster(Protocol):
    async def request(self, method: str, path: str, *, body: Any = None, timeout: float = 60) -> Obj: ...


def period_from_env(default: float = DEFAULT_PERIOD) -> float:
    """The collection period: ``PYBERNETES_AGENT_METRICS_PERIOD_SECONDS`` (tests shorten it), else 15 s."""
    try:
        value = float(os.environ.get(PERIOD_ENV, default))
    except ValueError:
        return default
    return value if 0 < value <= 3600 else default


def agent_id(node_names: Sequence[str]) -> str:
    """The agent's summary key: its first node's name, unique in the cluster and stable across restarts."""
    return node_names[0] if node_names else "agent"


class UsageReporter:
    def __init__(self, *, client: Poster, runtime: Runtime, pods: Mapping[str, PodView], node_names: Sequence[str],
                 period: float | None = None, clock: Clock = REAL) -> None:
        self.client = client
        self.runtime = runtime
        self.pods = pods
        self.node_names = tuple(node_names)
        self.period = period if period is not None else period_from_env()
        self.clock = clock
        self.agent = agent_id(self.node_names)
        self.controls = runtime if isinstance(runtime, SimulationControls) else None
        self.node_source = runtime if isinstance(runtime, NodeStatsSource) else None
        self._last: dict[str, tuple[datetime.datetime, int]] = {}    # container id → (time, cumulative CPU ns)
        self._node_last: dict[str, ContainerStats] = {}
        self._collected_at: datetime.datetime | None = None
        self.writes = 0
        self.failures = 0

    async def run(self) -> None:
        next_at = self.clock.monotonic()
        while True:
            try:
                await self.report()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.failures += 1
                if self.failures == 1 or self.failures % 20 == 0:    # a down server must not flood the log
                    log.warning("usage report failed", extra={"agent": self.agent, "failures": self.failures,
                                                              "error": str(e)[:200]})
            next_at += self.period
            await self.clock.sleep(max(next_at - self.clock.monotonic(), 0.0))

    async def report(self) -> Obj:
        """Collect once and write the summary; returns what was sent."""
        summary = await self.collect()
        await self.client.request("PUT", METRICS_PATH + self.agent, body=summary, timeout=max(self.period, 10.0))
        self.writes += 1
        return summary

    async def collect(self) -> Obj:
        now = self.clock.now()
        seen: dict[str, tuple[datetime.datetime, int]] = {}
        pods: list[PodUsage] = []
        per_node: dict[str, list[int]] = {n: [0, 0] for n in self.node_names}
        for i, rec in enumerate(list(self.pods.values())):
            if i and i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            got = await self._sample_pod(rec, seen)
            if got is not None:
                pods.append(got)
                acc = per_node.setdefault(got.node, [0, 0])
                for c in got.containers:
                    acc[0] += c.cpu_nanocores
                    acc[1] += c.memory_bytes
        self._last = seen
        window = (now - self._collected_at).total_seconds() if self._collected_at is not None else self.period
        self._collected_at = now
        nodes = []
        for name, (cpu, memory) in per_node.items():
            measured = await self._sample_node(name) if self.node_source is not None else None
            if measured is not None:
                nodes.append(measured)
                continue
            if self.controls is not None:
                sys_cpu, sys_memory = self.controls.system_usage(name, now)
                cpu, memory = cpu + sys_cpu, memory + sys_memory
            nodes.append(NodeUsage(name, window, cpu, memory))
        return usage_summary.encode(agent=self.agent, period=self.period, timestamp=now, nodes=nodes, pods=pods)

    async def _sample_node(self, name: str) -> NodeUsage | None:
        """The node's own measurement as a rate; None (the pods' sum is used) until there are two samples."""
        assert self.node_source is not None
        stats = await self.node_source.node_stats(name)
        if stats is None:
            return None
        prev, self._node_last[name] = self._node_last.get(name), stats
        if prev is None:
            return None
        dt = (stats.timestamp - prev.timestamp).total_seconds()
        if dt <= 0:
            return None
        rate = max(stats.cpu_usage_core_nanoseconds - prev.cpu_usage_core_nanoseconds, 0) / dt
        return NodeUsage(name, dt, int(rate), stats.memory_working_set_bytes)

    async def _sample_pod(self, rec: PodView, seen: dict[str, tuple[datetime.datetime, int]]) -> PodUsage | None:
        pod = rec.pod
        if pod is None or rec.terminal or not rec.sandbox_id:
            return None
        meta = pod.get("metadata") or {}
        if self.controls is not None:
            self.controls.set_pod_annotations(rec.uid, meta.get("annotations") or {})
        containers: list[ContainerUsage] = []
        window = 0.0
        complete = True
        for cs in await self.runtime.list_containers(rec.sandbox_id):
            if cs.state != ContainerState.RUNNING:
                continue
            stats = await self.runtime.container_stats(cs.id)
            if stats is None:
                complete = False
                continue
            seen[cs.id] = (stats.timestamp, stats.cpu_usage_core_nanoseconds)
            prev = self._last.get(cs.id)
            if prev is None and cs.started_at is not None and \
                    (stats.timestamp - cs.started_at).total_seconds() >= FRESH_CONTAINER_SECONDS:
                prev = (cs.started_at, 0)
            dt = (stats.timestamp - prev[0]).total_seconds() if prev is not None else 0.0
            if prev is None or dt <= 0:
                complete = False
                continue
            rate = max(stats.cpu_usage_core_nanoseconds - prev[1], 0) / dt
            containers.append(ContainerUsage(cs.name, int(rate), stats.memory_working_set_bytes))
            window = max(window, dt)
        if not containers or not complete:
            return None
        return PodUsage(meta.get("namespace", ""), meta.get("name", ""), rec.node, window, tuple(containers))
