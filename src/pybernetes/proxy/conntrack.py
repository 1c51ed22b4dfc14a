"""Stale UDP conntrack entries: after endpoints change, flows a Service no longer backs are forgotten.

A UDP "connection" lives in conntrack as long as packets keep coming (DNS clients reuse their source port), and
conntrack keeps the DNAT it chose first. So when an endpoint goes away, or a Service that rejected traffic
(no endpoints) gets one, the kernel would keep sending those flows to the dead endpoint or keep rejecting them.
As upstream's ``CleanStaleEntries``: list the UDP entries and delete each one whose original destination is a
Service frontend (ClusterIP, LoadBalancer or external IP with the port, or a NodePort on any address) and whose
reply source is not a serving endpoint of that Service. Services without any serving endpoint are left alone.
TCP needs none of this: a dead endpoint resets or times out the connection, and the next one is DNATed anew.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pybernetes.proxy.rules import endpoints_for, service_ports

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]
_FIELD = re.compile(r"(src|dst|sport|dport)=(\S+)")


@dataclass(frozen=True, slots=True)
class Frontends:
    """Where UDP Services are reached, and which endpoint addresses may answer there."""

    by_address: Mapping[tuple[str, int], frozenset[str]] = field(default_factory=dict)
    by_node_port: Mapping[int, frozenset[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.by_address or self.by_node_port)


def udp_frontends(services: Iterable[Obj], slices_of: Callable[[str], Iterable[Obj]]) -> Frontends:
    addresses: dict[tuple[str, int], frozenset[str]] = {}
    node_ports: dict[int, frozenset[str]] = {}
    for svc in services:
        ports = [sp for sp in service_ports(svc) if sp.protocol == "udp"]
        if not ports:
            continue
        slices = list(slices_of(f"{ports[0].namespace}/{ports[0].name}"))
        for sp in ports:
            serving = frozenset(e.ip for e in endpoints_for(sp, slices) if e.serving)
            if not serving:
                continue
            for ip in (sp.cluster_ip, *sp.lb_ips, *sp.external_ips):
                addresses[(ip, sp.port)] = serving
            if sp.node_port:
                node_ports[sp.node_port] = serving
    return Frontends(addresses, node_ports)


@dataclass(frozen=True, slots=True)
class Entry:
    orig_dst: str
    orig_dport: int
    reply_src: str


def parse_entries(text: str) -> list[Entry]:
    """``conntrack -L -p udp`` lines → entries (the first src/dst/ports are the original direction, the second
    the reply)."""
    out = []
    for line in text.splitlines():
        fields = _FIELD.findall(line)
        dst = [v for k, v in fields if k == "dst"]
        src = [v for k, v in fields if k == "src"]
        dport = [v for k, v in fields if k == "dport"]
        if len(dst) >= 2 and len(src) >= 2 and dport and dport[0].isdigit():
            out.append(Entry(orig_dst=dst[0], orig_dport=int(dport[0]), reply_src=src[1]))
    return out


def stale_filters(entries: Iterable[Entry], frontends: Frontends) -> list[tuple[str, ...]]:
    """``conntrack -D`` arguments deleting each stale flow (de-duplicated, in order)."""
    out: dict[tuple[str, ...], None] = {}
    for e in entries:
        serving = frontends.by_address.get((e.orig_dst, e.orig_dport))
        if serving is not None and e.reply_src not in serving:
            out[("-p", "udp", "--orig-dst", e.orig_dst, "--orig-port-dst", str(e.orig_dport),
                 "--reply-src", e.reply_src)] = None
        serving = frontends.by_node_port.get(e.orig_dport)
        if serving is not None and e.reply_src not in serving:
            out[("-p", "udp", "--orig-port-dst", str(e.orig_dport), "--reply-src", e.reply_src)] = None
    return list(out)


class Cleaner:
    """Runs the ``conntrack`` tool (package ``conntrack``); without it, logs once and does nothing."""

    def __init__(self, binary: str = "conntrack") -> None:
        self.binary = shutil.which(binary)
        self._warned = False

    async def _run(self, *args: str) -> str:
        assert self.binary is not None
        proc = await asyncio.create_subprocess_exec(self.binary, *args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        return out.decode(errors="replace")

    async def clean(self, frontends: Frontends) -> int:
        """Delete the stale UDP flows; returns how many filters were applied."""
        if not frontends:
            return 0
        if self.binary is None:
            if not self._warned:
                log.warning("conntrack is not installed: stale UDP flows to removed endpoints are not cleared")
                self._warned = True
            return 0
        filters = stale_filters(parse_entries(await self._run("-L", "-p", "udp")), frontends)
        for args in filters:
            await self._run("-D", *args)
        if filters:
            log.info("stale UDP conntrack entries cleared", extra={"filters": len(filters)})
        return len(filters)
