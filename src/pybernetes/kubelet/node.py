"""Registering Nodes and reporting their status and heartbeats (upstream ``kubelet_node_status.go`` + the node
lease controller), for as many nodes as the agent process holds.

- *Registration* creates each Node with its full status; a Node that already exists (an agent restart) is adopted:
  our labels are patched in and the status rewritten. Registrations run with bounded concurrency and retry with
  back-off (100 ms … 7 s) until the server takes them — one request per node: the Lease is created by the node's
  first heartbeat, so Lease creations are spread over the first period instead of doubling the start-up burst.
- *Heartbeats*: every 10 s each node renews its Lease (one :class:`~pybernetes.kubelet.heartbeat.Spread` loop for
  all nodes), then recomputes its status and writes it only if it changed or 5 minutes passed since the last write
  (``nodeStatusReportFrequency``) — heartbeats are Lease writes, not Node writes (DESIGN.md).
- *One Node watch* for the process (trimmed to the few fields the agent reads) tells each node its
  ``spec.podCIDR`` (set by the node IPAM controller), notices when another component marked it not Ready (the next
  heartbeat rewrites the status), and re-registers a node someone deleted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from typing import Any, ClassVar

from pybernetes.api.meta import format_rfc3339
from pybernetes.client.clock import REAL, Clock
from pybernetes.client.informer import Informer
from pybernetes.client.resources import NODES
from pybernetes.client.rest import APIStatusError, Client
from pybernetes.kubelet import nodestatus as ns
from pybernetes.kubelet.config import SIM_NODE_NETWORK, AgentConfig, sim_node_ips
from pybernetes.kubelet.heartbeat import Spread
from pybernetes.kubelet.ipam import fallback_pod_cidr
from pybernetes.kubelet.lease import RENEW_INTERVAL, NodeLease
from pybernetes.kubelet.recorders import Recorders, node_ref
from pybernetes.kubelet.runtime.interface import Runtime

log = logging.getLogger(__name__)
Obj = dict[str, Any]
REPORT_FREQUENCY = 300.0               # upstream nodeStatusReportFrequency
REGISTER_CONCURRENCY = 64
HEARTBEAT_CONCURRENCY = 64
REGISTER_BACKOFF = (0.1, 7.0)


class SimNode:
    """One node this agent runs: what pod workers need (:class:`~pybernetes.kubelet.podworker.NodeView`) and
    what its heartbeat remembers between turns."""

    __slots__ = ("_fallback_logged", "allocatable", "api_ready", "capacity", "fallback_cidr", "force", "identity",
                 "index", "labels", "last_report", "lease", "pod_cidr", "recorders", "registered", "status", "uid")
    fallback_warned: ClassVar[bool] = False

    def __init__(self, *, index: int, identity: ns.NodeIdentity, labels: dict[str, str], capacity: dict[str, str],
                 allocatable: dict[str, str], recorders: Recorders, clock: Clock) -> None:
        self.index = index
        self.identity = identity
        self.labels = labels
        self.capacity, self.allocatable = capacity, allocatable
        self.recorders = recorders
        self.fallback_cidr = fallback_pod_cidr(index)
        self.pod_cidr = ""
        self.uid = ""
        self.status: Obj | None = None          # the status last written
        self.last_report = 0.0
        self.force = False
        self.registered = False
        self.api_ready = ""
        self.lease = NodeLease(identity.name, clock=clock)
        self._fallback_logged = False

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def host_ips(self) -> tuple[str, ...]:
        return (self.identity.internal_ip,)

    def pod_cidr_for_pods(self) -> str:
        if self.pod_cidr:
            return self.pod_cidr
        if not self._fallback_logged:
            self._fallback_logged = True
            level = logging.DEBUG if SimNode.fallback_warned else logging.WARNING
            SimNode.fallback_warned = True      # warn for the first node only: 5,000 identical lines help nobody
            log.log(level, "node has no podCIDR yet; simulated pods take IPs from a fallback range",
                    extra={"node": self.name, "fallback": self.fallback_cidr})
        return self.fallback_cidr

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        self.recorders.event(self.name, obj, type_, reason, message, field_path=field_path)


def trim_node(obj: Obj) -> None:
    """Cut a watched Node down, in place, to what the agent reads (client-go's informer transform): the node
    informer is private to :class:`NodeManager`, so its cache holds kilobytes, not megabytes, for 5,000 nodes."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    obj["metadata"] = {k: meta[k] for k in ("name", "uid", "resourceVersion") if k in meta}
    obj["spec"] = {k: spec[k] for k in ("podCIDR", "podCIDRs") if k in spec}
    obj["status"] = {
        "conditions": [{"type": c.get("type"), "status": c.get("status")} for c in status.get("conditions") or ()
                       if c.get("type") == "Ready"],
        "addresses": [a for a in status.get("addresses") or () if a.get("type") == "InternalIP"],
    }


def _ready_of(obj: Obj) -> str:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return str(c.get("status") or "")
    return ""


class NodeManager:
    def __init__(self, *, client: Client, heartbeat_client: Client, runtime: Runtime, recorders: Recorders,
                 config: AgentConfig, clock: Clock = REAL, rng: random.Random | None = None) -> None:
        self.client = client
        self.rng = rng or random.Random()
        self.hb = heartbeat_client
        self.runtime = runtime
        self.recorders = recorders
        self.config = config
        self.clock = clock
        self.host = ns.host_info(runtime.runtime_name, runtime.runtime_version)
        self.nodes: dict[str, SimNode] = {}
        self.heartbeats: Spread[SimNode] = Spread(self.heartbeat, period=RENEW_INTERVAL, clock=clock,
                                                  concurrency=HEARTBEAT_CONCURRENCY, name="node-heartbeat")
        self.informer = Informer(client, NODES)
        self.informer.add_handler(self._on_node, lambda _old, new: self._on_node(new), self._on_node_deleted)
        self._tasks: set[asyncio.Task[None]] = set()
        self.status_writes = 0
        self.kubelet_port = ns.KUBELET_PORT     # where the kubelet server listens (the agent sets --kubelet-port)
        self.register_failures = 0

    # ------------------------------------------------------------------ setup
    def build(self) -> None:
        """Create the node records: names from the config, InternalIPs kept from existing Nodes of ours or taken
        from 198.18.0.0/15 where no other Node uses them. Call after the node informer has synced."""
        existing: dict[str, str] = {}
        for obj in self.informer.list():
            for a in (obj.get("status") or {}).get("addresses") or ():
                existing[(obj.get("metadata") or {}).get("name", "")] = a.get("address", "")
        in_range = {name: ip for name, ip in existing.items() if _in_sim_range(ip)}
        keep = {n: in_range[n] for n in self.config.node_names if n in in_range}
        others = {ip for name, ip in in_range.items() if name not in keep}
        fresh = iter(sim_node_ips(others | set(keep.values()), len(self.config.node_names) - len(keep)))
        cap, alloc = ns.resources(self.config.capacity)
        for i, name in enumerate(self.config.node_names):
            ip = keep.get(name) or next(fresh)
            if self.config.simulated:
                ident = ns.simulated_identity(name, ip, self.host)
            else:                               # a real node: this machine's ids and address (realnode.py)
                from pybernetes.kubelet.realnode import identity
                ident = identity(name, self.host, internal_ip=self.config.node_ip)
            node = SimNode(index=i, identity=ident, labels=dict(self.config.labels), capacity=cap,
                           allocatable=alloc, recorders=self.recorders, clock=self.clock)
            self.nodes[name] = node
            seen = self.informer.get(name)
            if seen is not None:
                node.pod_cidr = (seen.get("spec") or {}).get("podCIDR") or ""

    async def status_of(self, node: SimNode) -> Obj:
        now = format_rfc3339(self.clock.now())
        old_conds = (node.status or {}).get("conditions")
        images = ns.images(await self.runtime.list_images(node=node.name))
        return ns.node_status(node.identity, self.host, capacity=node.capacity, allocatable=node.allocatable,
                              conds=ns.conditions(old_conds, now), image_list=images,
                              kubelet_port=self.kubelet_port)

    # ------------------------------------------------------------------ registration
    async def register_all(self) -> None:
        sem = asyncio.Semaphore(REGISTER_CONCURRENCY)

        async def one(node: SimNode) -> None:
            async with sem:
                await self.register(node)

        await asyncio.gather(*(one(n) for n in self.nodes.values()))

    async def register(self, node: SimNode) -> None:
        delay = REGISTER_BACKOFF[0]
        while True:
            try:
                await self._register_once(node)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.register_failures += 1
                level = logging.WARNING if self.register_failures % 100 == 1 else logging.DEBUG
                log.log(level, "node registration failed; retrying",
                        extra={"node": node.name, "error": repr(e), "retry_in": delay,
                               "failures": self.register_failures})
                await self.clock.sleep(delay)
                delay = min(delay * 2, REGISTER_BACKOFF[1])

    async def _register_once(self, node: SimNode) -> None:
        status = await self.status_of(node)
        body = ns.initial_node(node.identity, self.host, labels=node.labels, status=status)
        try:
            obj = await self.client.create(NODES, body)
        except APIStatusError as e:
            if e.code != 409:
                raise
            obj = await self._adopt(node, body, status)
        self._accept(node, obj, status)
        # Nodes registered together would all reach the 5-minute report at once; start each at a random point of
        # the report period so 5,000 nodes write ~17 statuses a second, not 5,000 in one burst.
        node.last_report -= self.rng.uniform(0, REPORT_FREQUENCY)
        node.lease.node_uid = node.uid
        node.lease.lease = None             # created (or taken over) by the node's first heartbeat
        node.registered = True
        if self.config.node_events:
            ref = node_ref(node.name)
            node.event(ref, "Normal", "Starting", "Starting kubelet.")
            for ctype in ns.transitions(None, status["conditions"]):
                reason = ns.CONDITION_EVENTS[ctype]
                node.event(ref, "Normal", reason, f"Node {node.name} status is now: {reason}")
        if node.name not in self.heartbeats:
            self.heartbeats.add(node.name, node)

    async def _adopt(self, node: SimNode, body: Obj, status: Obj) -> Obj:
        """The Node exists (this agent ran before): make sure our labels are on it and rewrite its status."""
        current = await self.client.get(NODES, node.name)
        want = body["metadata"]["labels"]
        have = (current.get("metadata") or {}).get("labels") or {}
        if any(have.get(k) != v for k, v in want.items()):
            await self.client.patch(NODES, node.name, {"metadata": {"labels": want}})
        return await self.hb.patch(NODES, node.name, {"status": status}, patch_type="strategic",
                                   subresource="status")

    def _accept(self, node: SimNode, obj: Obj, status: Obj) -> None:
        node.uid = (obj.get("metadata") or {}).get("uid", "")
        node.pod_cidr = (obj.get("spec") or {}).get("podCIDR") or node.pod_cidr
        node.status = status
        node.last_report = self.clock.monotonic()
        node.force = False
        self.status_writes += 1

    # ------------------------------------------------------------------ heartbeats
    async def heartbeat(self, node: SimNode) -> None:
        if not node.registered:
            return
        await node.lease.renew(self.hb)
        status = await self.status_of(node)
        due = self.clock.monotonic() - node.last_report >= REPORT_FREQUENCY
        if node.force or due or ns.status_changed(node.status, status):
            await self.write_status(node, status)

    async def write_status(self, node: SimNode, status: Obj) -> None:
        old = node.status
        try:
            obj = await self.hb.patch(NODES, node.name, {"status": status}, patch_type="strategic",
                                      subresource="status")
        except APIStatusError as e:
            if e.code == 404:
                self._reregister(node)
                return
            raise
        self._accept(node, obj, status)
        if self.config.node_events:
            for ctype in ns.transitions((old or {}).get("conditions"), status["conditions"]):
                reason = ns.CONDITION_EVENTS[ctype]
                node.event(node_ref(node.name), "Normal", reason, f"Node {node.name} status is now: {reason}")

    # ------------------------------------------------------------------ the node watch
    def _on_node(self, obj: Obj) -> None:
        trim_node(obj)
        node = self.nodes.get((obj.get("metadata") or {}).get("name", ""))
        if node is None:
            return
        cidr = (obj.get("spec") or {}).get("podCIDR") or ""
        if cidr and cidr != node.pod_cidr:
            log.info("node podCIDR set", extra={"node": node.name, "podCIDR": cidr})
            node.pod_cidr = cidr
        node.api_ready = _ready_of(obj)
        if node.registered and node.api_ready and node.api_ready != "True":
            node.force = True           # someone (node lifecycle controller) marked us not ready: rewrite soon

    def _on_node_deleted(self, obj: Obj) -> None:
        node = self.nodes.get((obj.get("metadata") or {}).get("name", ""))
        if node is not None and node.registered:
            uid = (obj.get("metadata") or {}).get("uid", "")
            if uid and uid == node.uid:
                self._reregister(node)

    def _reregister(self, node: SimNode) -> None:
        if not node.registered:
            return
        log.warning("node was deleted from the API; registering it again", extra={"node": node.name})
        node.registered = False
        node.uid = ""
        t = asyncio.get_running_loop().create_task(self.register(node), name=f"register-{node.name}")
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.informer.stop()


def _in_sim_range(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in SIM_NODE_NETWORK
    except ValueError:
        return False
