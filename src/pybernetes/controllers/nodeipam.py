"""Node IPAM: every node gets ``spec.podCIDR``/``podCIDRs`` carved from the cluster CIDR (a /24 each by default).

As upstream's range allocator (``pkg/controller/nodeipam/ipam/range_allocator.go`` and ``cidrset``):

- The allocation map is rebuilt from the nodes themselves: every CIDR already on a node is marked used as the
  node informer lists them, before any worker runs, so a restarted controller never hands out a CIDR twice.
- New CIDRs are taken round robin from where the last allocation stopped (so a CIDR just released is not reused
  at once while stale routes may still point at it), one per configured cluster CIDR (dual stack: one IPv4 and
  one IPv6 range, ``cluster_cidr`` comma-separated, ``node_cidr_mask_size`` / ``node_cidr_mask_size_ipv6``).
- A CIDR is released when its node is deleted, or when writing it to the node failed.
- A full range is reported on the node as a ``CIDRNotAvailable`` event and retried with backoff.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from pybernetes.api.meta import key_of
from pybernetes.client.resources import NODES
from pybernetes.client.rest import APIStatusError, is_not_found
from pybernetes.controllers.base import Controller, ControllerContext, RetryLater

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
DEFAULT_MASK_V4 = 24
DEFAULT_MASK_V6 = 64
MAX_PREFIX_DIFFERENCE = 16    # upstream refuses more than 2^16 subnets per cluster CIDR


class CIDRRangeFull(RetryLater):
    """Every subnet of the cluster CIDR is in use."""

    def __str__(self) -> str:
        return f"no node CIDR left in the cluster CIDR {self.args[0] if self.args else ''}"


class CIDRSet:
    """The subnets of one cluster CIDR and which are taken (upstream ``cidrset.CidrSet``)."""

    def __init__(self, cluster: str, mask: int) -> None:
        self.cluster: Network = ipaddress.ip_network(cluster, strict=False)
        if mask < self.cluster.prefixlen:
            raise ValueError(f"node CIDR mask /{mask} is larger than the cluster CIDR {self.cluster}")
        if mask - self.cluster.prefixlen > MAX_PREFIX_DIFFERENCE:
            raise ValueError(f"cluster CIDR {self.cluster} with node mask /{mask} has more than 2^16 subnets")
        self.mask = mask
        self.size = 1 << (mask - self.cluster.prefixlen)
        self._step = 1 << (self.cluster.max_prefixlen - mask)
        self._base = int(self.cluster.network_address)
        self.used: set[int] = set()
        self.next_candidate = 0

    @property
    def family(self) -> int:
        return self.cluster.version

    def _index(self, cidr: str) -> int | None:
        """The subnet's index, or None when it is not one of ours (another range, another size)."""
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return None
        if net.version != self.cluster.version or net.prefixlen != self.mask:
            return None
        if not self._base <= int(net.network_address) <= int(self.cluster.broadcast_address):
            return None
        return (int(net.network_address) - self._base) // self._step

    def _cidr(self, index: int) -> str:
        addr = ipaddress.ip_address(self._base + index * self._step)
        return f"{addr}/{self.mask}"

    def occupy(self, cidr: str) -> bool:
        i = self._index(cidr)
        if i is None:
            return False
        self.used.add(i)
        return True

    def release(self, cidr: str) -> None:
        i = self._index(cidr)
        if i is not None:
            self.used.discard(i)

    def allocate_next(self) -> str:
        if len(self.used) >= self.size:
            raise CIDRRangeFull(str(self.cluster))
        for k in range(self.size):
            i = (self.next_candidate + k) % self.size
            if i not in self.used:
                self.used.add(i)
                self.next_candidate = (i + 1) % self.size
                return self._cidr(i)
        raise CIDRRangeFull(str(self.cluster))


def build_sets(cluster_cidr: str, *, mask_v4: int = DEFAULT_MASK_V4, mask_v6: int = DEFAULT_MASK_V6) -> list[CIDRSet]:
    sets = []
    for part in (p.strip() for p in cluster_cidr.split(",") if p.strip()):
        net = ipaddress.ip_network(part, strict=False)
        sets.append(CIDRSet(part, mask_v4 if net.version == 4 else mask_v6))
    if not sets:
        raise ValueError("no cluster CIDR configured")
    return sets


def node_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = list(spec.get("podCIDRs") or ())
    if not cidrs and spec.get("podCIDR"):
        cidrs = [spec["podCIDR"]]
    return cidrs


class NodeIPAMController(Controller):
    name = "nodeipam"
    workers = 10        # as upstream's CIDR update workers; no await splits a change of the map

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.sets = build_sets(str(ctx.options.get("cluster_cidr") or DEFAULT_CLUSTER_CIDR),
                               mask_v4=int(ctx.options.get("node_cidr_mask_size") or DEFAULT_MASK_V4),
                               mask_v6=int(ctx.options.get("node_cidr_mask_size_ipv6") or DEFAULT_MASK_V6))
        self.pending: dict[str, list[str]] = {}      # node -> CIDRs allocated but not yet seen on the node
        self.nodes = ctx.informers.informer(NODES)
        self.nodes.add_handler(self._on_node, lambda _o, n: self._on_node(n), self._on_delete)

    # ---------------------------------------------------------------- the map, kept in step with the informer
    def occupy(self, cidrs: list[str]) -> None:
        for cidr in cidrs:
            if not any(s.occupy(cidr) for s in self.sets):
                log.warning("node CIDR outside the cluster CIDR", extra={"controller": self.name, "cidr": cidr})

    def release(self, cidrs: list[str]) -> None:
        for cidr in cidrs:
            for s in self.sets:
                s.release(cidr)

    def _on_node(self, node: Obj) -> None:
        cidrs = node_cidrs(node)
        name = key_of(node)
        if cidrs:
            self.occupy(cidrs)
            pending = self.pending.pop(name, None)
            if pending and pending != cidrs:
                self.release([c for c in pending if c not in cidrs])
        else:
            self.enqueue(name)

    def _on_delete(self, node: Obj) -> None:
        name = key_of(node)
        self.release(node_cidrs(node) + self.pending.pop(name, []))

    # ---------------------------------------------------------------- reconcile
    def allocate(self) -> list[str]:
        got: list[str] = []
        try:
            for s in self.sets:
                got.append(s.allocate_next())
        except CIDRRangeFull:
            self.release(got)
            raise
        return got

    async def reconcile(self, key: str) -> float | None:
        node = self.nodes.get(key)
        if node is None or node_cidrs(node):
            return None
        cidrs = self.pending.get(key)
        if cidrs is None:
            try:
                cidrs = self.pending[key] = self.allocate()
            except CIDRRangeFull:
                self.recorder.event(node, "Normal", "CIDRNotAvailable", f"Node {key} status is now: CIDRNotAvailable")
                raise
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}})
        except APIStatusError as e:
            self.pending.pop(key, None)
            self.release(cidrs)
            if is_not_found(e):
                return None
            self.recorder.event(node, "Normal", "CIDRAssignmentFailed",
                                f"Node {key} status is now: CIDRAssignmentFailed")
            raise
        log.info("allocated node CIDR", extra={"controller": self.name, "node": key, "cidrs": cidrs})
        return None
