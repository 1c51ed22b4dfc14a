"""The agent: nodes, pods, runtime and status writers of one ``pybernetes agent`` process, wired together.

Start-up order matters: the node watch first (to keep InternalIPs and podCIDRs of Nodes registered before), then
registration of every node (bounded concurrency), then the pod informer, so pods are only run on registered nodes.
Everything then runs until cancelled; stopping leaves Leases to go stale, which is how the control plane learns
the nodes are gone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from pybernetes.client.clock import REAL, Clock
from pybernetes.client.rest import Client
from pybernetes.kubelet.config import AgentConfig
from pybernetes.kubelet.node import NodeManager
from pybernetes.kubelet.pods import PodSource
from pybernetes.kubelet.podworker import PodWorkers
from pybernetes.kubelet.recorders import Recorders
from pybernetes.kubelet.runtime.interface import Runtime
from pybernetes.kubelet.status import StatusManager
from pybernetes.kubelet.usage import UsageReporter

if TYPE_CHECKING:
    from pybernetes.kubelet.podsetup import PodSetup

log = logging.getLogger(__name__)
REPORT_EVERY = 60.0


class Agent:
    def __init__(self, *, config: AgentConfig, client: Client, heartbeat_client: Client,
                 events_client: Client | None, runtime: Runtime, clock: Clock = REAL,
                 setup: PodSetup | None = None) -> None:
        self.config = config
        self.clock = clock
        self.runtime = runtime
        self.recorders = Recorders(events_client, clock=clock)
        self.nodes = NodeManager(client=client, heartbeat_client=heartbeat_client, runtime=runtime,
                                 recorders=self.recorders, config=config, clock=clock)
        self.status = StatusManager(client, clock=clock)
        self.workers = PodWorkers(runtime=runtime, status=self.status, nodes=self.nodes.nodes, clock=clock,
                                  setup=setup)        # real nodes: volumes, env, probes, hooks
        self.pods = PodSource(client, nodes=self.nodes.nodes, node_names=config.node_names, workers=self.workers)
        self.usage = UsageReporter(client=client, runtime=runtime, pods=self.workers.records,
                                   node_names=config.node_names, clock=clock)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.nodes.informer.run(), name="node-informer")
            await self.nodes.informer.synced.wait()
            self.nodes.build()
            await self.workers.adopt()
            tg.create_task(self.status.run(), name="pod-status")
            tg.create_task(self.nodes.heartbeats.run(), name="node-heartbeat")
            t0 = self.clock.monotonic()
            await self.nodes.register_all()
            log.info("nodes registered", extra={"nodes": len(self.nodes.nodes),
                                                "seconds": round(self.clock.monotonic() - t0, 2)})
            tg.create_task(self.pods.informer.run(), name="pod-informer")
            await self.pods.informer.synced.wait()
            await self.workers.remove_orphans()
            self.ready.set()
            log.info("agent ready", extra={"nodes": len(self.nodes.nodes), "pods": len(self.workers.records)})
            tg.create_task(self._report(), name="agent-report")
            tg.create_task(self.usage.run(), name="usage-reporter")

    def stats(self) -> dict[str, Any]:
        hb = self.nodes.heartbeats
        return {"nodes": len(self.nodes.nodes), "registered": sum(n.registered for n in self.nodes.nodes.values()),
                "pods": len(self.workers.records), "heartbeats": hb.runs, "heartbeat_failures": hb.failures,
                "heartbeats_skipped": hb.skipped, "node_status_writes": self.nodes.status_writes,
                "pod_status_writes": self.status.writes, "pod_deletes": self.status.deletes}

    async def _report(self) -> None:
        while True:
            await self.clock.sleep(REPORT_EVERY)
            log.info("agent stats", extra=self.stats())

    async def close(self) -> None:
        await self.workers.stop()
        await self.nodes.stop()
        await self.pods.informer.stop()
        await self.recorders.close()
