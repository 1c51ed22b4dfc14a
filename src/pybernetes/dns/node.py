"""Cluster DNS on a real node: the agent runs a DNS server on its pod network's gateway address and publishes it
as an endpoint of the ``kube-dns`` Service, which kube-proxy then load-balances (10.43.0.10:53 by default).

Why the gateway: it is an address this node owns on every node's pod network (the first IP of its podCIDR, on
the CNI bridge ``pyb0``), routable from every pod of the cluster, and created by the cluster itself — not the
machine's own external address. The bridge and its address are made here if no pod has been started yet (the CNI
bridge plugin finds them as it would have made them: same name, same address and prefix).

Start-up: wait for the Node's podCIDR; make sure the bridge has the gateway address; serve UDP+TCP port 53 there
(retrying with back-off if the port is taken); list the cluster (answers are SERVFAIL, never NXDOMAIN, until
then); publish the EndpointSlice. On a clean stop the slice is deleted before the server closes, so pods stop
being sent here first. Forwarding goes to the resolvers in the node's ``resolv.conf`` (re-read at every start).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from pybernetes.client.informer import Informer
from pybernetes.client.rest import Client
from pybernetes.dns import metrics
from pybernetes.dns.cluster import ClusterRecords
from pybernetes.dns.forward import Forwarder, read_upstreams
from pybernetes.dns.publish import Publisher
from pybernetes.dns.records import Resolver
from pybernetes.dns.server import DNSServer
from pybernetes.dns.source import ClusterSource

log = logging.getLogger(__name__)
BRIDGE = "pyb0"
RETRY = (0.5, 10.0)


@dataclass(frozen=True, slots=True)
class NodeDNSConfig:
    node: str
    cluster_dns: tuple[str, ...] = ("10.43.0.10",)
    domain: str = "cluster.local"
    resolv_conf: Path = Path("/etc/resolv.conf")
    bridge: str = BRIDGE
    port: int = 53
    pod_mode: str = "verified"
    metrics_port: int = 9153                 # 0: no metrics server


def gateway_interface(pod_cidr: str) -> str:
    """``10.42.3.1/24`` for ``10.42.3.0/24``: the bridge's address (CNI ``isGateway``: the podCIDR's first IP)."""
    net = ipaddress.ip_network(pod_cidr.split(",")[0].strip(), strict=False)
    return f"{net.network_address + 1}/{net.prefixlen}"


async def _ip(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec("ip", *args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode or 0, (out if proc.returncode == 0 else err).decode(errors="replace").strip()


def bridge_addresses(ip_addr_output: str, address: str) -> tuple[bool, list[str]]:
    """From ``ip -o addr show dev BRIDGE``: whether ``address`` is there, and the other (non-link-local)
    addresses."""
    have = [f[3] for f in (line.split() for line in ip_addr_output.splitlines())
            if len(f) > 3 and f[2] in ("inet", "inet6")]
    return address in have, [a for a in have if a != address and not a.startswith("fe80:")]


async def ensure_bridge_address(bridge: str, address: str) -> None:
    """The bridge exists, is up and holds ``address`` (``ip/prefix``); raises OSError naming what failed."""
    code, _ = await _ip("link", "show", "dev", bridge)
    if code != 0:
        code, err = await _ip("link", "add", bridge, "type", "bridge")
        if code != 0 and "exists" not in err:
            raise OSError(f"cannot create bridge {bridge}: {err}")
    code, out = await _ip("-o", "-4" if ":" not in address else "-6", "addr", "show", "dev", bridge)
    present, other = bridge_addresses(out, address)
    if not present:
        if other:       # as the CNI bridge plugin: never a second address beside another cluster's gateway
            raise OSError(f"bridge {bridge} has {', '.join(other)}, not {address}")
        code, err = await _ip("addr", "add", address, "dev", bridge)
        if code != 0 and "exists" not in err:
            raise OSError(f"cannot add {address} to {bridge}: {err}")
    code, err = await _ip("link", "set", bridge, "up")
    if code != 0:
        raise OSError(f"cannot bring {bridge} up: {err}")


class NodeDNS:
    """The node's DNS server and its EndpointSlice, for as long as :meth:`run` runs."""

    def __init__(self, config: NodeDNSConfig, *, client: Client, nodes: Informer,
                 pod_cidr: Callable[[], str], node_uid: Callable[[], str] = lambda: "") -> None:
        self.config = config
        self.client = client
        self.pod_cidr = pod_cidr
        self.records = ClusterRecords()
        self.source = ClusterSource(client, self.records, pods=config.pod_mode == "verified")
        self.publisher = Publisher(client, node=config.node, nodes=nodes, node_uid=node_uid)
        self.server: DNSServer | None = None
        self.metrics: web.AppRunner | None = None
        self.listening = asyncio.Event()
        self._node_changed = asyncio.Event()
        nodes.add_handler(lambda _n: self._node_changed.set(), lambda _o, _n: self._node_changed.set(), None)

    async def _wait_for_cidr(self) -> str:
        while not (cidr := self.pod_cidr()):
            self._node_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._node_changed.wait(), 1.0)
        return cidr

    async def _serve(self, address: str) -> DNSServer:
        ip = address.split("/")[0]
        upstreams = read_upstreams(self.config.resolv_conf, exclude=(ip, *self.config.cluster_dns))
        resolver = Resolver(self.records, zone=self.config.domain, pod_mode=self.config.pod_mode, local_ips=(ip,))
        delay = RETRY[0]
        while True:
            try:
                await ensure_bridge_address(self.config.bridge, address)
                server = DNSServer(resolver, Forwarder(upstreams), host=ip, port=self.config.port)
                await server.start()
                log.info("cluster DNS listening", extra={"address": ip, "port": server.port,
                                                         "upstreams": [u.host for u in upstreams]})
                return server
            except OSError as e:
                log.warning("cluster DNS cannot listen yet; retrying",
                            extra={"address": ip, "error": str(e), "retry_in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY[1])

    async def run(self) -> None:
        """Serve until cancelled; on cancellation withdraw the endpoint, then stop serving."""
        source = asyncio.get_running_loop().create_task(self.source.run(), name="dns-informers")
        publisher: asyncio.Task[None] | None = None
        try:
            address = gateway_interface(await self._wait_for_cidr())
            self.server = await self._serve(address)
            await self._serve_metrics(self.server)
            self.listening.set()
            await self.source.synced.wait()
            await self._publish(address.split("/")[0])
            publisher = asyncio.get_running_loop().create_task(self.publisher.run(), name="dns-endpoint")
            await asyncio.gather(source, publisher)
        finally:
            await asyncio.shield(self._stop(source, publisher))

    async def _serve_metrics(self, server: DNSServer) -> None:
        if not self.config.metrics_port:
            return
        try:
            self.metrics = await metrics.start(server.counts, server.forwarder, host=server.host,
                                               port=self.config.metrics_port)
        except OSError as e:
            log.warning("cluster DNS metrics cannot listen", extra={"port": self.config.metrics_port,
                                                                    "error": str(e)})

    async def _publish(self, ip: str) -> None:
        delay = RETRY[0]
        while True:
            try:
                await self.publisher.publish(ip)
                return
            except Exception as e:
                log.warning("cannot publish the node's DNS endpoint; retrying", extra={"error": repr(e)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY[1])

    async def _stop(self, *tasks: asyncio.Task[None] | None) -> None:
        if self.publisher.ip:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.publisher.withdraw(), 5.0)
        for t in tasks:
            if t is not None:
                t.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        if self.metrics is not None:
            await self.metrics.cleanup()
            self.metrics = None
        if self.server is not None:
            await self.server.stop()
