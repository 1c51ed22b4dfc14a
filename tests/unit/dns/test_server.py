"""The DNS server over real UDP and TCP sockets on loopback, with ``dnslib`` as the client and a fake upstream
resolver (also on loopback) for what is forwarded."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dnslib import EDNS0, QTYPE, RCODE, RR, A, DNSRecord
from tests.unit.dns.test_records import ep, eps, svc

from pybernetes.dns.cluster import ClusterRecords
from pybernetes.dns.forward import Forwarder, Upstream
from pybernetes.dns.records import Resolver
from pybernetes.dns.server import DNSServer

LO = "127.0.0.1"


class FakeUpstream(asyncio.DatagramProtocol):
    """Answers every A query with 192.0.2.1 (and NXDOMAIN for ``missing.example``), counting queries."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        req = DNSRecord.parse(data)
        self.queries.append(str(req.q.qname))
        reply = req.reply()
        if str(req.q.qname) == "missing.example.":
            reply.header.rcode = RCODE.NXDOMAIN
        elif req.q.qtype == QTYPE.A:
            reply.add_answer(RR(req.q.qname, QTYPE.A, ttl=60, rdata=A("192.0.2.1")))
        assert self.transport is not None
        self.transport.sendto(reply.pack(), addr)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LO, 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[FakeUpstream, int]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(FakeUpstream, local_addr=(LO, 0))
    yield proto, transport.get_extra_info("sockname")[1]
    transport.close()


def cluster() -> ClusterRecords:
    r = ClusterRecords()
    for ns in ("default", "apps"):
        r.set_namespace({"metadata": {"name": ns}})
    r.set_service(svc("default", "nginx", ip="10.43.0.20"))
    r.set_service(svc("apps", "big", ip="None"))
    r.set_slice(eps("apps", "big-1", "big", [ep(f"10.42.{i // 200}.{i % 200 + 1}") for i in range(60)]))
    r.set_service(svc("apps", "ext", typ="ExternalName", external="www.example", ports=[]))
    r.synced = True
    return r


async def serve(upstreams: list[Upstream]) -> DNSServer:
    server = DNSServer(Resolver(cluster()), Forwarder(upstreams, timeout=1.0), host=LO, port=0)
    await server.start()
    return server


async def ask(server: DNSServer, name: str, qtype: str = "A", *, tcp: bool = False, edns: bool = False
              ) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    if edns:
        q.add_ar(EDNS0(udp_len=4096))
    raw = await asyncio.to_thread(q.send, LO, server.port, tcp=tcp, timeout=5)
    return DNSRecord.parse(raw)


def answers(reply: DNSRecord) -> list[str]:
    return [f"{rr.rname} {QTYPE.get(rr.rtype)} {rr.rdata}" for rr in reply.rr]


@pytest.mark.parametrize("tcp", [False, True])
async def test_cluster_names_over_udp_and_tcp(tcp: bool) -> None:
    server = await serve([])
    try:
        reply = await ask(server, "nginx.default.svc.cluster.local", tcp=tcp)
        assert reply.header.rcode == RCODE.NOERROR and reply.header.aa and reply.header.ra
        assert answers(reply) == ["nginx.default.svc.cluster.local. A 10.43.0.20"]
        nx = await ask(server, "nginx.default.svc.cluster.local.default.svc.cluster.local", tcp=tcp)
        assert nx.header.rcode == RCODE.NXDOMAIN and [QTYPE.get(rr.rtype) for rr in nx.auth] == ["SOA"]
    finally:
        await server.stop()


async def test_several_queries_on_one_tcp_connection() -> None:
    server = await serve([])
    try:
        reader, writer = await asyncio.open_connection(LO, server.port)
        for i, name in enumerate(("nginx.default.svc.cluster.local", "default.svc.cluster.local")):
            q = DNSRecord.question(name)
            q.header.id = 100 + i
            data = q.pack()
            writer.write(len(data).to_bytes(2, "big") + data)
        await writer.drain()
        got = []
        for _ in range(2):
            size = int.from_bytes(await reader.readexactly(2), "big")
            got.append(DNSRecord.parse(await reader.readexactly(size)))
        writer.close()
        assert [r.header.id for r in got] == [100, 101]
        assert [len(r.rr) for r in got] == [1, 0]
    finally:
        await server.stop()


async def test_large_udp_answers_are_truncated_and_complete_over_tcp() -> None:
    server = await serve([])
    try:
        udp = await ask(server, "big.apps.svc.cluster.local")
        assert udp.header.tc and not udp.rr
        tcp = await ask(server, "big.apps.svc.cluster.local", tcp=True)
        assert not tcp.header.tc and len(tcp.rr) == 60
        edns = await ask(server, "big.apps.svc.cluster.local", edns=True)        # 60 A records fit 1232 bytes
        assert not edns.header.tc and len(edns.rr) == 60
        assert any(rr.rtype == QTYPE.OPT for rr in edns.ar)
    finally:
        await server.stop()


async def test_other_names_are_forwarded_and_cached(upstream: tuple[FakeUpstream, int]) -> None:
    fake, port = upstream
    server = await serve([Upstream(LO, port)])
    try:
        for _ in range(3):
            reply = await ask(server, "www.example")
            assert answers(reply) == ["www.example. A 192.0.2.1"]
        assert fake.queries == ["www.example."]
        nx = await ask(server, "missing.example")
        assert nx.header.rcode == RCODE.NXDOMAIN
    finally:
        await server.stop()


async def test_external_name_cname_is_completed_upstream(upstream: tuple[FakeUpstream, int]) -> None:
    _, port = upstream
    server = await serve([Upstream(LO, port)])
    try:
        reply = await ask(server, "ext.apps.svc.cluster.local")
        assert answers(reply) == ["ext.apps.svc.cluster.local. CNAME www.example.", "www.example. A 192.0.2.1"]
    finally:
        await server.stop()


async def test_without_a_reachable_upstream_the_answer_is_a_quick_servfail() -> None:
    for upstreams in ([], [Upstream(LO, closed_port())]):
        server = await serve(upstreams)
        try:
            t0 = time.monotonic()
            reply = await ask(server, "www.example")
            assert reply.header.rcode == RCODE.SERVFAIL
            ext = await ask(server, "ext.apps.svc.cluster.local")       # the CNAME cannot be completed
            assert ext.header.rcode == RCODE.NOERROR and not ext.rr
            assert time.monotonic() - t0 < 1.0
        finally:
            await server.stop()


async def test_malformed_and_unsupported_messages() -> None:
    server = await serve([])
    try:
        bad = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07broken"
        reply = DNSRecord.parse(await server.handle(bad, tcp=False) or b"")
        assert reply.header.id == 0x1234 and reply.header.rcode == RCODE.FORMERR
        assert await server.handle(b"\x00", tcp=False) is None
        response = DNSRecord.question("nginx.default.svc.cluster.local").reply().pack()
        assert await server.handle(response, tcp=False) is None
        notify = DNSRecord.question("cluster.local", "SOA")
        notify.header.opcode = 4
        assert DNSRecord.parse(await server.handle(notify.pack(), tcp=False) or b"").header.rcode == RCODE.NOTIMP
    finally:
        await server.stop()
