"""LoadBalancer Services get the nodes' addresses as their ingress IPs, as k3s's service load balancer does.

k3s runs a DaemonSet of ``klipper-lb`` pods that forward each LoadBalancer port on every node and writes the
nodes' addresses into ``status.loadBalancer.ingress``. Here the proxy already DNATs a LoadBalancer ingress IP
on the Service's port to its endpoints on every node, so only the status is left: a small controller, run by
every node's proxy under a Lease (``kube-system/pybernetes-servicelb``) so that exactly one writes.

Which addresses: each Ready node's ExternalIP, or its InternalIP when it has none (k3s's choice), sorted.
Services with a ``spec.loadBalancerClass`` belong to another implementation and are left alone.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pybernetes.client.informer import Informer, key_of
from pybernetes.client.leaderelection import LeaderElector
from pybernetes.client.resources import SERVICES
from pybernetes.client.rest import APIStatusError, Client, is_not_found
from pybernetes.client.workqueue import WorkQueue

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]
LEASE = "pybernetes-servicelb"


def node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or ())


def node_addresses(nodes: Iterable[Obj]) -> list[str]:
    """The ingress IPs for LoadBalancer Services: per Ready node its ExternalIPs, else its InternalIPs."""
    out: set[str] = set()
    for node in nodes:
        if not node_ready(node):
            continue
        addrs = (node.get("status") or {}).get("addresses") or ()
        external = [a["address"] for a in addrs if a.get("type") == "ExternalIP" and a.get("address")]
        internal = [a["address"] for a in addrs if a.get("type") == "InternalIP" and a.get("address")]
        for ip in external or internal:
            try:
                out.add(str(ipaddress.ip_address(ip)))
            except ValueError:
                continue
    return sorted(out, key=lambda ip: (ipaddress.ip_address(ip).version, ipaddress.ip_address(ip)))


def wants_ingress(svc: Obj) -> bool:
    spec = svc.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def desired_ingress(addresses: Iterable[str]) -> list[dict[str, str]]:
    return [{"ip": ip, "ipMode": "VIP"} for ip in addresses]


def current_ingress(svc: Obj) -> list[dict[str, str]]:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [{k: v for k, v in i.items() if k in ("ip", "ipMode")} for i in ingress]


class ServiceLB:
    """Keeps ``status.loadBalancer.ingress`` of class-less LoadBalancer Services equal to the node addresses."""

    def __init__(self, *, client: Client, services: Informer, nodes: Informer, identity: str | None = None) -> None:
        self.client = client
        self.services = services
        self.nodes = nodes
        self.queue = WorkQueue(name="servicelb")
        self.elector = LeaderElector(client, name=LEASE, identity=identity)
        self._addresses: list[str] = []
        services.add_handler(self._enqueue, lambda _o, n: self._enqueue(n), None)
        nodes.add_handler(lambda _n: self._nodes_changed(), lambda _o, _n: self._nodes_changed(),
                          lambda _n: self._nodes_changed())

    def _enqueue(self, svc: Obj) -> None:
        if wants_ingress(svc):
            self.queue.add(key_of(dict(svc)))

    def _nodes_changed(self) -> None:
        addresses = node_addresses(self.nodes.list())
        if addresses == self._addresses:
            return
        self._addresses = addresses
        for svc in self.services.list():
            self._enqueue(svc)

    async def reconcile(self, key: str) -> None:
        svc = self.services.get(key)
        if svc is None or not wants_ingress(svc):
            return
        want = desired_ingress(node_addresses(self.nodes.list()))
        if current_ingress(svc) == want:
            return
        ns, name = key.split("/", 1)
        try:
            await self.client.patch(SERVICES, name, {"status": {"loadBalancer": {"ingress": want}}}, ns,
                                    subresource="status")
        except APIStatusError as e:
            if not is_not_found(e):
                raise
        log.info("load balancer ingress set", extra={"service": key, "ips": [i["ip"] for i in want]})

    async def _work(self) -> None:
        for svc in self.services.list():
            self._enqueue(svc)
        while (key := await self.queue.get()) is not None:
            try:
                await self.reconcile(str(key))
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("servicelb reconcile failed", extra={"key": key})
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def run(self) -> None:
        """Campaign for the Lease, work while leading, campaign again after losing it."""
        while True:
            await self.elector.run(self._work)
