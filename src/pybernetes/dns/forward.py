"""Forwarding what the cluster zone does not answer to the node's own resolvers, with a brief cache.

Upstreams are the ``nameserver`` lines of the node's ``resolv.conf`` (as CoreDNS's ``forward . /etc/resolv.conf``),
minus the addresses this server answers on (a node whose resolv.conf names cluster DNS must not loop). A query
goes out over the transport it came in on (UDP, or TCP for a client that retried over TCP after a truncated
answer), from a fresh socket (a new source port each time), to one upstream after another until one answers.

Failing fast matters more than trying hard: pods probe several search-path names per lookup, and a resolver that
hangs turns every lookup into a timeout. So an upstream that refused or timed out is skipped for
:attr:`Forwarder.down_for` seconds, and while every upstream is skipped (or there is none) the answer is SERVFAIL
at once. Answers are cached per (name, type, class) for at most :attr:`Forwarder.max_ttl` seconds — or the answer's
own smallest TTL if less; NXDOMAIN and empty answers for the SOA minimum, capped the same way — and replayed with
the asker's ID. TTLs are not counted down in the cache: the cap bounds how stale they get.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dnslib import QTYPE, RCODE, DNSError, DNSRecord

from pybernetes.kubelet.network.dnsfiles import parse_resolv_conf

log = logging.getLogger(__name__)
DNS_PORT = 53


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int = DNS_PORT


def upstreams_from_resolv_conf(text: str, *, exclude: Iterable[str] = ()) -> list[Upstream]:
    """The resolvers a node's resolv.conf names, in order, without ``exclude`` (the addresses this server
    listens on and the cluster DNS address: forwarding there would loop)."""
    skip = set(exclude)
    out: list[Upstream] = []
    for ns in parse_resolv_conf(text).nameservers:
        host = ns.split("%", 1)[0]
        if host not in skip and Upstream(host) not in out:
            out.append(Upstream(host))
    return out


def read_upstreams(path: Path | str, *, exclude: Iterable[str] = ()) -> list[Upstream]:
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    return upstreams_from_resolv_conf(text, exclude=exclude)


def cache_key(packet: bytes) -> tuple[str, int, int, bool] | None:
    """(name, type, class, DNSSEC OK) of a query, or None when it cannot be cached (not one question)."""
    try:
        rec = DNSRecord.parse(packet)
    except (DNSError, ValueError, IndexError, struct.error):
        return None
    if len(rec.questions) != 1:
        return None
    q = rec.q
    do = any(rr.rtype == QTYPE.OPT and (rr.ttl >> 15) & 1 for rr in rec.ar)
    return str(q.qname).lower(), int(q.qtype), int(q.qclass), do


def cache_seconds(packet: bytes, *, max_ttl: float) -> float:
    """How long an upstream answer may be replayed: its smallest answer TTL, or for NXDOMAIN/NODATA the SOA's
    minimum (RFC 2308); never more than ``max_ttl``; 0 for failures and truncated answers."""
    try:
        rec = DNSRecord.parse(packet)
    except (DNSError, ValueError, IndexError, struct.error):
        return 0.0
    if rec.header.tc or rec.header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
        return 0.0
    if rec.rr:
        return float(min(max_ttl, *(rr.ttl for rr in rec.rr)))
    for rr in rec.auth:
        if rr.rtype == QTYPE.SOA:
            return float(min(max_ttl, rr.ttl, rr.rdata.times[-1]))
    return 0.0


class _UDPClient(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes) -> None:
        self.query_id = query_id
        self.done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data[:2] == self.query_id and not self.done.done():
            self.done.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed"))


class Forwarder:
    """Sends queries to the node's upstream resolvers (see the module docstring)."""

    def __init__(self, upstreams: Sequence[Upstream], *, timeout: float = 2.0, max_ttl: float = 10.0,
                 down_for: float = 5.0, cache_size: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self.max_ttl = max_ttl
        self.down_for = down_for
        self.cache_size = cache_size
        self.clock = clock
        self._down_until: dict[Upstream, float] = {}
        self._cache: OrderedDict[tuple[str, int, int, bool], tuple[float, bytes]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.failures = 0

    def _candidates(self) -> list[Upstream]:
        now = self.clock()
        return [u for u in self.upstreams if self._down_until.get(u, 0.0) <= now]

    def cached(self, packet: bytes) -> bytes | None:
        key = cache_key(packet)
        if key is None:
            return None
        hit = self._cache.get(key)
        if hit is None:
            return None
        expires, data = hit
        if expires <= self.clock():
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        self.hits += 1
        return packet[:2] + data[2:]

    def _store(self, packet: bytes, answer: bytes) -> None:
        key = cache_key(packet)
        seconds = cache_seconds(answer, max_ttl=self.max_ttl)
        if key is None or seconds <= 0:
            return
        self._cache[key] = (self.clock() + seconds, answer)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def query(self, packet: bytes, *, tcp: bool = False) -> bytes | None:
        """The upstream answer to ``packet`` (a whole DNS message; the answer carries its ID), or None when no
        upstream answered in time (the caller answers SERVFAIL)."""
        hit = self.cached(packet)
        if hit is not None:
            return hit
        self.misses += 1
        for up in self._candidates():
            try:
                answer = await asyncio.wait_for(self._tcp(up, packet) if tcp else self._udp(up, packet),
                                                self.timeout)
            except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError) as e:
                self._down_until[up] = self.clock() + self.down_for
                log.debug("upstream resolver failed", extra={"upstream": up.host, "error": repr(e)})
                continue
            self._down_until.pop(up, None)
            self._store(packet, answer)
            return answer
        self.failures += 1
        return None

    async def _udp(self, up: Upstream, packet: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(lambda: _UDPClient(packet[:2]),
                                                               remote_addr=(up.host, up.port))
        try:
            transport.sendto(packet)
            return await proto.done
        finally:
            transport.close()

    async def _tcp(self, up: Upstream, packet: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(up.host, up.port)
        try:
            writer.write(struct.pack("!H", len(packet)) + packet)
            await writer.drain()
            while True:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(size)
                if data[:2] == packet[:2]:
                    return data
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
