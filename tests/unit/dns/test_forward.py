from __future__ import annotations

import pytest
from dnslib import EDNS0, QTYPE, RCODE, RR, SOA, A, DNSRecord

from pybernetes.dns.forward import Forwarder, Upstream, cache_key, cache_seconds, upstreams_from_resolv_conf


@pytest.mark.parametrize(("text", "exclude", "want"), [
    ("nameserver 10.0.0.2\nnameserver 10.0.0.3\n", (), ["10.0.0.2", "10.0.0.3"]),
    ("search corp\nnameserver 10.43.0.10\nnameserver 1.1.1.1 # x\n", ("10.43.0.10",), ["1.1.1.1"]),
    ("nameserver fe80::1%eth0\nnameserver 10.0.0.2\nnameserver 10.0.0.2\n", (), ["fe80::1", "10.0.0.2"]),
    ("# nothing\n", (), []),
])
def test_upstreams_from_resolv_conf(text: str, exclude: tuple[str, ...], want: list[str]) -> None:
    assert [u.host for u in upstreams_from_resolv_conf(text, exclude=exclude)] == want


def answer(name: str, *, ttl: int = 60, rcode: int = RCODE.NOERROR, soa_min: int = 0, tc: bool = False) -> bytes:
    r = DNSRecord.question(name).reply()
    r.header.rcode = rcode
    r.header.tc = int(tc)
    if ttl and rcode == RCODE.NOERROR and not soa_min:
        r.add_answer(RR(name, QTYPE.A, ttl=ttl, rdata=A("192.0.2.1")))
    if soa_min:
        r.add_auth(RR("example.", QTYPE.SOA, ttl=ttl, rdata=SOA("ns.example.", "h.example.", (1, 2, 3, 4, soa_min))))
    return r.pack()


@pytest.mark.parametrize(("packet", "seconds"), [
    (answer("a.example", ttl=60), 10.0),
    (answer("a.example", ttl=3), 3.0),
    (answer("a.example", rcode=RCODE.NXDOMAIN, ttl=900, soa_min=2), 2.0),
    (answer("a.example", rcode=RCODE.SERVFAIL), 0.0),
    (answer("a.example", tc=True), 0.0),
    (answer("a.example", ttl=0), 0.0),
    (b"junk", 0.0),
])
def test_cache_seconds(packet: bytes, seconds: float) -> None:
    assert cache_seconds(packet, max_ttl=10.0) == seconds


def test_cache_key() -> None:
    q = DNSRecord.question("A.Example", "AAAA")
    assert cache_key(q.pack()) == ("a.example.", QTYPE.AAAA, 1, False)
    q.add_ar(EDNS0(flags="do"))
    assert cache_key(q.pack()) == ("a.example.", QTYPE.AAAA, 1, True)
    assert cache_key(b"junk") is None


def test_cache_replays_with_the_asker_s_id_until_it_expires() -> None:
    now = [100.0]
    fwd = Forwarder([Upstream("127.0.0.1", 9)], clock=lambda: now[0])
    q1 = DNSRecord.question("a.example")
    q1.header.id = 1
    reply = DNSRecord.parse(answer("a.example", ttl=5))
    reply.header.id = 1
    fwd._store(q1.pack(), reply.pack())
    q2 = DNSRecord.question("a.example")
    q2.header.id = 2
    hit = fwd.cached(q2.pack())
    assert hit is not None and DNSRecord.parse(hit).header.id == 2 and len(DNSRecord.parse(hit).rr) == 1
    now[0] += 5
    assert fwd.cached(q2.pack()) is None


async def test_no_upstream_means_no_answer() -> None:
    assert await Forwarder([]).query(DNSRecord.question("a.example").pack()) is None
