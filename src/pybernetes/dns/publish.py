"""A node's DNS server as an endpoint of the ``kube-dns`` Service: the EndpointSlice ``kube-dns-<node>`` that
the node's agent owns.

The ``kube-dns`` Service (bootstrapped by the API server, selector-less) gets no endpoints from the EndpointSlice
controller; each real node publishes its own slice instead — one endpoint, the node's DNS address, with the ports
``dns`` 53/UDP, ``dns-tcp`` 53/TCP and ``metrics`` 9153/TCP, labelled ``kubernetes.io/service-name: kube-dns`` (so
kube-proxy and DNS consumers find it) and ``endpointslice.kubernetes.io/managed-by: pybernetes-agent`` (so the
EndpointSlice controller leaves it alone). The Node is its owner, so deleting a Node garbage-collects its slice.

An agent deletes its slice when it stops cleanly. One that dies cannot, so every agent keeps the ``ready``
condition of *every* such slice equal to its node's Ready condition (a Node marked NotReady or Unknown by the node
lifecycle controller): a dead node's DNS endpoint leaves the Service within the node monitor grace period, and
comes back when its agent does. The writes are idempotent, so any number of agents agreeing is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from pybernetes.client.informer import Informer
from pybernetes.client.resources import ENDPOINTSLICES
from pybernetes.client.rest import APIStatusError, Client

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NAMESPACE = "kube-system"
SERVICE = "kube-dns"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "pybernetes-agent"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PORTS = (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP"))
SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"


def slice_name(node: str) -> str:
    return f"{SERVICE}-{node}"


def dns_endpoint_slice(*, node: str, ip: str, ready: bool, node_uid: str = "") -> Obj:
    """The slice that makes ``ip`` (the node's DNS address) an endpoint of ``kube-dns``."""
    meta: Obj = {"name": slice_name(node), "namespace": NAMESPACE,
                 "labels": {SERVICE_NAME_LABEL: SERVICE, MANAGED_BY_LABEL: MANAGED_BY}}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
            "addressType": "IPv6" if ":" in ip else "IPv4",
            "endpoints": [{"addresses": [ip], "nodeName": node,
                           "conditions": {"ready": ready, "serving": ready, "terminating": False}}],
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in PORTS]}


def node_ready(node: Obj | None) -> bool:
    for c in ((node or {}).get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def readiness_patches(slices: list[Obj], nodes: Mapping[str, Obj]) -> list[tuple[str, bool]]:
    """(slice name, ready) for every agent-managed slice whose ``ready`` differs from its node's Ready condition
    (a slice whose Node is gone is not ready)."""
    out: list[tuple[str, bool]] = []
    for sl in slices:
        for ep in sl.get("endpoints") or ():
            want = node_ready(nodes.get(ep.get("nodeName") or ""))
            if bool((ep.get("conditions") or {}).get("ready")) != want:
                out.append((sl["metadata"]["name"], want))
                break
    return out


def _with_ready(sl: Obj, ready: bool) -> Obj:
    eps = [{**ep, "conditions": {**(ep.get("conditions") or {}), "ready": ready, "serving": ready}}
           for ep in sl.get("endpoints") or ()]
    return {**sl, "endpoints": eps}


class Publisher:
    """Keeps this node's slice published (:meth:`publish`, :meth:`withdraw`) and every agent slice's readiness in
    line with its node (:meth:`run`)."""

    def __init__(self, client: Client, *, node: str, nodes: Informer,
                 node_uid: Callable[[], str] = lambda: "") -> None:
        self.client = client
        self.node = node
        self.nodes = nodes
        self.node_uid = node_uid
        self.slices = Informer(client, ENDPOINTSLICES, namespace=NAMESPACE, label_selector=SELECTOR)
        self._kick = asyncio.Event()
        self.slices.add_handler(lambda _o: self._kick.set(), lambda _o, _n: self._kick.set(), None)
        nodes.add_handler(lambda _o: self._kick.set(), lambda _o, _n: self._kick.set(), lambda _o: self._kick.set())
        self.ip = ""

    async def publish(self, ip: str) -> None:
        """Create or rewrite this node's slice with ``ip`` as its ready endpoint."""
        self.ip = ip
        body = dns_endpoint_slice(node=self.node, ip=ip, ready=True, node_uid=self.node_uid())
        try:
            await self.client.create(ENDPOINTSLICES, body, NAMESPACE)
        except APIStatusError as e:
            if e.code != 409:
                raise
            current = await self.client.get(ENDPOINTSLICES, slice_name(self.node), NAMESPACE)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            await self.client.update(ENDPOINTSLICES, body)
        log.info("published the node's DNS endpoint", extra={"node": self.node, "ip": ip})

    async def withdraw(self) -> None:
        """Delete this node's slice (a clean stop)."""
        with contextlib.suppress(APIStatusError):
            await self.client.delete(ENDPOINTSLICES, slice_name(self.node), NAMESPACE)

    async def run(self) -> None:
        """Follow the agent slices and the Nodes until cancelled, fixing readiness as it drifts."""
        task = self.slices.start()
        try:
            await self.slices.synced.wait()
            await self.nodes.synced.wait()
            while True:
                self._kick.clear()
                await self.sync_once()
                await self._kick.wait()
                await asyncio.sleep(0.2)           # let a burst of events settle into one pass
        finally:
            task.cancel()
            await asyncio.shield(self.slices.stop())

    async def sync_once(self) -> None:
        nodes = {(n.get("metadata") or {}).get("name", ""): n for n in self.nodes.list()}
        for name, ready in readiness_patches(self.slices.list(), nodes):
            if name == slice_name(self.node) and ready and not self.ip:
                continue                     # ours, before the server listens: publish() sets it
            current = self.slices.get(f"{NAMESPACE}/{name}")
            if current is None:
                continue
            try:
                await self.client.update(ENDPOINTSLICES, _with_ready(current, ready))
                log.info("DNS endpoint readiness follows its node", extra={"slice": name, "ready": ready})
            except APIStatusError as e:
                if e.code not in (404, 409):       # gone, or another agent wrote it first: the next event retries
                    log.warning("cannot update a DNS endpoint slice", extra={"slice": name, "error": str(e)})
