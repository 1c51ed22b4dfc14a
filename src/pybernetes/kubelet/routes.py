"""Host-gw routes: this node reaches every other node's pods through that node's InternalIP (flannel's host-gw
backend, k3s without an overlay).

For each other Node with a podCIDR and an InternalIP, one route ``<podCIDR> via <InternalIP>`` in this node's
network namespace. The routes carry their own protocol number (:data:`PROTO`), so the controller can tell them
from anyone else's: it lists the routes of that protocol, adds or replaces what is missing or points elsewhere and
deletes what no Node wants any more — level-triggered, from the agent's Node informer, and again every
:data:`RESYNC` seconds in case someone removed one by hand. A route whose gateway is not on a directly connected
network cannot be added (host-gw needs the nodes on one L2 segment); that is logged and retried at the next
resync. Simulated nodes (InternalIPs in 198.18.0.0/15) and this node's own podCIDR get no route.

Pod traffic between pod CIDRs keeps its pod source address (the CNI bridge runs with ``ipMasq: false``, and
kube-proxy only masquerades what leaves the cluster CIDRs), which NetworkPolicy needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pybernetes.client.informer import Informer
from pybernetes.kubelet.config import SIM_NODE_NETWORK

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]
PROTO = "66"            # the routes' protocol number (rtnetlink RTPROT_*): ours alone
RESYNC = 60.0


def _internal_ip(node: Obj) -> str:
    for a in (node.get("status") or {}).get("addresses") or ():
        if a.get("type") == "InternalIP" and a.get("address"):
            return str(a["address"])
    return ""


def _cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    return [c for c in (spec.get("podCIDRs") or [spec.get("podCIDR")]) if c]


def desired_routes(nodes: Iterable[Obj], *, self_name: str) -> dict[str, str]:
    """podCIDR → gateway (the owning node's InternalIP) for every other node, IPv4 pod CIDRs via IPv4 addresses
    and IPv6 via IPv6."""
    own_ips: set[str] = set()
    others: list[Obj] = []
    for n in nodes:
        if (n.get("metadata") or {}).get("name") == self_name:
            own_ips.add(_internal_ip(n))
        else:
            others.append(n)
    out: dict[str, str] = {}
    for n in others:
        ip = _internal_ip(n)
        try:
            gw = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if ip in own_ips or gw in SIM_NODE_NETWORK or gw.is_loopback:
            continue
        for cidr in _cidrs(n):
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                continue
            if net.version == gw.version:
                out[str(net)] = ip
    return out


def parse_routes(text: str) -> dict[str, str]:
    """``ip -j route show proto PROTO`` output → destination → gateway."""
    try:
        routes = json.loads(text or "[]")
    except ValueError:
        return {}
    return {str(r.get("dst")): str(r.get("gateway") or "") for r in routes if r.get("dst")}


def plan(current: Mapping[str, str], desired: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """(routes to add or replace, destinations to delete)."""
    put = {dst: gw for dst, gw in desired.items() if current.get(dst) != gw}
    drop = sorted(dst for dst in current if dst not in desired)
    return put, drop


async def _ip(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec("ip", *args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode or 0, (out if proc.returncode == 0 else err).decode(errors="replace").strip()


class RouteController:
    """Keeps this node's host-gw routes equal to :func:`desired_routes` of the Nodes in ``informer``."""

    def __init__(self, informer: Informer, *, node_name: str, resync: float = RESYNC) -> None:
        self.informer = informer
        self.node_name = node_name
        self.resync = resync
        self._kick = asyncio.Event()
        informer.add_handler(lambda _n: self._kick.set(), lambda _o, _n: self._kick.set(),
                             lambda _n: self._kick.set())
        self.applied: dict[str, str] = {}

    async def sync_once(self) -> None:
        desired = desired_routes(self.informer.list(), self_name=self.node_name)
        current: dict[str, str] = {}
        for family in ("-4", "-6"):
            code, out = await _ip(family, "-j", "route", "show", "proto", PROTO)
            if code == 0:
                current.update(parse_routes(out))
        put, drop = plan(current, desired)
        for dst, gw in put.items():
            code, err = await _ip("route", "replace", dst, "via", gw, "proto", PROTO)
            if code == 0:
                log.info("pod network route set", extra={"dst": dst, "via": gw})
            else:
                log.warning("cannot route a node's pod network", extra={"dst": dst, "via": gw, "error": err})
        for dst in drop:
            code, err = await _ip("route", "del", dst, "proto", PROTO)
            if code == 0:
                log.info("pod network route removed", extra={"dst": dst})
        self.applied = desired

    async def run(self) -> None:
        await self.informer.synced.wait()
        while True:
            self._kick.clear()
            try:
                await self.sync_once()
            except OSError as e:
                log.warning("route sync failed", extra={"error": str(e)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.resync)
