"""What a real node runs for the cluster network beside its kubelet (issue 5): the host-gw route controller
(``routes``) and the node's cluster DNS server (``pybernetes.dns.node``).

Both follow the agent's own Node informer (every Node, trimmed to podCIDRs, InternalIPs and the Ready
condition), so they add no watch of their own on Nodes; the DNS server has its own API connections for its
informers. Each runs as a supervised task: a crash is logged and the task restarted with back-off, never taking
the node down. :meth:`ClusterNetwork.stop` (the agent's clean stop) withdraws the node's DNS endpoint first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pybernetes.client.rest import Client, ClientConfig
from pybernetes.dns.node import NodeDNS, NodeDNSConfig
from pybernetes.kubelet.routes import RouteController
from pybernetes.proxy.main import supervise  # the node components' one restart-with-back-off loop

if TYPE_CHECKING:
    from pybernetes.kubelet.agent import Agent
    from pybernetes.kubelet.config import AgentConfig

USER_AGENT = "pybernetes-dns"


class ClusterNetwork:
    def __init__(self, *, routes: RouteController | None, dns: NodeDNS | None, client: Client | None) -> None:
        self.routes = routes
        self.dns = dns
        self.client = client
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def for_agent(cls, agent: Agent, *, config: AgentConfig, ca: bytes | None, cluster_dns: tuple[str, ...],
                  cluster_domain: str, resolv_conf: Path = Path("/etc/resolv.conf"), dns: bool = True,
                  routes: bool = True, bridge: str = "pyb0") -> ClusterNetwork:
        node = config.node_names[0]
        informer = agent.nodes.informer

        def own(attr: str) -> Callable[[], str]:
            def get() -> str:
                n: Any = agent.nodes.nodes.get(node)
                return str(getattr(n, attr, "") or "") if n is not None else ""
            return get

        client = Client(ClientConfig(server=config.server, ca_pem=ca, token=config.token, user_agent=USER_AGENT),
                        limit=8) if dns else None
        node_dns = NodeDNS(NodeDNSConfig(node=node, cluster_dns=cluster_dns, domain=cluster_domain,
                                         resolv_conf=resolv_conf, bridge=bridge), client=client, nodes=informer,
                           pod_cidr=own("pod_cidr"), node_uid=own("uid")) if client is not None else None
        return cls(routes=RouteController(informer, node_name=node) if routes else None, dns=node_dns,
                   client=client)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.routes is not None:
            self._tasks.append(loop.create_task(supervise(self.routes.run, name="routes"), name="pod-routes"))
        if self.dns is not None:
            self._tasks.append(loop.create_task(supervise(self.dns.run, name="dns"), name="cluster-dns"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.client is not None:
            await self.client.close()
