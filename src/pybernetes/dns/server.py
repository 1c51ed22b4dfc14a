"""The DNS server: UDP and TCP on one address, answers from the :class:`~pybernetes.dns.records.Resolver`, the rest
from the :class:`~pybernetes.dns.forward.Forwarder`.

Messages are parsed and built with ``dnslib``. Replies set AA for the cluster zone and RA always (pods use this
server as their recursive resolver). A query with an EDNS OPT record gets one back, and a UDP answer larger than
the asker can take (512 bytes, or its EDNS buffer size up to :data:`MAX_UDP`) goes back empty with TC set, so the
client asks again over TCP. TCP connections carry any number of length-prefixed queries, answered in order, and
are closed after :data:`TCP_IDLE` seconds without one. A malformed message gets FORMERR when its ID can be read,
else nothing; opcodes other than QUERY get NOTIMP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
from collections import Counter
from typing import Any

from dnslib import CLASS, EDNS0, OPCODE, QTYPE, RCODE, DNSError, DNSHeader, DNSRecord

from pybernetes.dns.forward import Forwarder
from pybernetes.dns.records import Answer, Resolver

log = logging.getLogger(__name__)
MAX_UDP = 1232                  # the DNS flag day 2020 buffer size: no IP fragmentation
TCP_IDLE = 10.0
_PARSE_ERRORS = (DNSError, ValueError, IndexError, struct.error, UnicodeDecodeError)


def _error_reply(data: bytes, rcode: int) -> bytes | None:
    """A bare reply with ``rcode`` to a message we could not handle, or None without a readable ID."""
    if len(data) < 12:
        return None
    (qid, flags) = struct.unpack("!HH", data[:4])
    header = DNSHeader(id=qid, qr=1, rd=(flags >> 8) & 1, ra=1, rcode=rcode, opcode=(flags >> 11) & 0xF)
    packed: bytes = DNSRecord(header).pack()
    return packed


def _udp_limit(req: DNSRecord) -> int:
    for rr in req.ar:
        if rr.rtype == QTYPE.OPT:
            return max(512, min(int(rr.rclass), MAX_UDP))
    return 512


class DNSServer:
    """Serves DNS on ``host:port`` (UDP and TCP) until :meth:`stop`."""

    def __init__(self, resolver: Resolver, forwarder: Forwarder, *, host: str, port: int = 53) -> None:
        self.resolver = resolver
        self.forwarder = forwarder
        self.host = host
        self.port = port
        self.counts: Counter[str] = Counter()        # requests by transport, responses by rcode
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        server = self

        class UDP(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                pass

            def datagram_received(self, data: bytes, addr: Any) -> None:
                server._spawn(server._answer_udp(data, addr))

        wanted = self.port
        for attempt in range(8):
            self._udp, _ = await loop.create_datagram_endpoint(UDP, local_addr=(self.host, wanted))
            self.port = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port, reuse_address=True)
                return
            except OSError:
                self._udp.close()
                self._udp = None
                if wanted != 0 or attempt == 7:     # port 0 (tests): the TCP port UDP got may be taken; pick again
                    raise
            except BaseException:
                self._udp.close()
                raise

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------------------------------ transports
    async def _answer_udp(self, data: bytes, addr: Any) -> None:
        self.counts["udp"] += 1
        try:
            reply = await self.handle(data, tcp=False)
        except Exception:
            log.exception("DNS query failed", extra={"peer": str(addr)})
            reply = _error_reply(data, RCODE.SERVFAIL)
        if reply is not None and self._udp is not None:
            self._udp.sendto(reply, addr)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    (size,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), TCP_IDLE))
                    data = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                self.counts["tcp"] += 1
                try:
                    reply = await self.handle(data, tcp=True)
                except Exception:
                    log.exception("DNS query failed", extra={"peer": str(writer.get_extra_info("peername"))})
                    reply = _error_reply(data, RCODE.SERVFAIL)
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    # ------------------------------------------------------------------------------------------ one query
    async def handle(self, data: bytes, *, tcp: bool) -> bytes | None:
        """The reply to one DNS message (None: no reply at all)."""
        try:
            req = DNSRecord.parse(data)
        except _PARSE_ERRORS:
            self.counts["FORMERR"] += 1
            return _error_reply(data, RCODE.FORMERR)
        if req.header.qr:
            return None                     # a response sent to us: never answer those
        if req.header.opcode != OPCODE.QUERY:
            self.counts["NOTIMP"] += 1
            return _error_reply(data, RCODE.NOTIMP)
        if len(req.questions) != 1:
            self.counts["FORMERR"] += 1
            return _error_reply(data, RCODE.FORMERR)
        q = req.q
        ans = self.resolver.resolve(str(q.qname), int(q.qtype)) if q.qclass in (CLASS.IN, 255) \
            else Answer(forward=True)
        if ans.forward:
            self.counts["forwarded"] += 1
            upstream = await self.forwarder.query(data, tcp=tcp)
            if upstream is None:
                self.counts["SERVFAIL"] += 1
                return self._reply(req, Answer(rcode=RCODE.SERVFAIL), tcp=tcp, authoritative=False)
            return upstream
        if ans.chase:
            await self._chase(ans, int(q.qtype))
        self.counts[RCODE.get(ans.rcode, str(ans.rcode))] += 1
        return self._reply(req, ans, tcp=tcp, authoritative=True)

    async def _chase(self, ans: Answer, qtype: int) -> None:
        """Complete an ExternalName CNAME from upstream; as CoreDNS, drop the CNAME when nobody answers."""
        query = DNSRecord.question(ans.chase + ".", QTYPE.get(qtype))
        query.header.id = secrets.randbelow(0x10000)
        raw = await self.forwarder.query(query.pack())
        got: DNSRecord | None = None
        if raw is not None:
            with contextlib.suppress(*_PARSE_ERRORS):
                got = DNSRecord.parse(raw)
        if got is not None:
            ans.answer.extend(got.rr)
        else:
            ans.answer = [rr for rr in ans.answer
                          if not (rr.rtype == QTYPE.CNAME and str(rr.rdata.label).rstrip(".").lower() == ans.chase)]
            if not ans.answer:
                ans.authority = [self.resolver.soa()]
        ans.chase = ""

    def _reply(self, req: DNSRecord, ans: Answer, *, tcp: bool, authoritative: bool) -> bytes:
        h = req.header
        reply = DNSRecord(DNSHeader(id=h.id, qr=1, aa=int(authoritative), rd=h.rd, ra=1, rcode=ans.rcode),
                          q=req.q)
        for rr in ans.answer:
            reply.add_answer(rr)
        for rr in ans.authority:
            reply.add_auth(rr)
        for rr in ans.additional:
            reply.add_ar(rr)
        edns = any(rr.rtype == QTYPE.OPT for rr in req.ar)
        if edns:
            reply.add_ar(EDNS0(udp_len=MAX_UDP))
        packed: bytes = reply.pack()
        if not tcp and len(packed) > _udp_limit(req):
            short = DNSRecord(DNSHeader(id=h.id, qr=1, aa=int(authoritative), rd=h.rd, ra=1, tc=1,
                                        rcode=ans.rcode), q=req.q)
            if edns:
                short.add_ar(EDNS0(udp_len=MAX_UDP))
            packed = short.pack()
        return packed
