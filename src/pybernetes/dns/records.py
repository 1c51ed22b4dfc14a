"""Answers for the cluster zone and the reverse zones, computed from :class:`~pybernetes.dns.cluster.ClusterRecords`
(synchronous and side-effect free: the server does the I/O).

The rules are CoreDNS's kubernetes plugin (``kubernetes.go``, ``handler.go``, ``reverse.go`` and
``plugin/backend_lookup.go``), which is what pods on real clusters see:

- a ClusterIP Service answers its ClusterIPs (A for IPv4, AAAA for IPv6: an IPv4-only Service has no AAAA, which
  is NODATA, not NXDOMAIN); a headless one its ready endpoint IPs; ``<endpoint>.<svc>…`` one endpoint by its
  hostname (StatefulSet pods: ``web-0.web.ns.svc.cluster.local``) or dashed IP; a headless Service without a
  ready endpoint does not exist (NXDOMAIN);
- SRV: one record per matching port and target — the Service name for ClusterIP Services, each endpoint's name
  for headless ones — priority 0 and the weight 100/n, with the targets' addresses in the additional section;
- an ExternalName Service is a CNAME to its ``externalName``; A/AAAA queries also resolve the target (inside the
  zone here, elsewhere through the forwarder: :attr:`Answer.chase`) and, as CoreDNS, drop the CNAME when the
  target cannot be looked up at all;
- pods: ``a-b-c-d.<ns>.pod.<zone>`` answers the address if a pod in that namespace has it (``verified``), any
  well-formed address (``insecure``) or nothing (``disabled``);
- PTR: a ClusterIP answers its Service's name, else every endpoint with that address its endpoint name;
  reverse names nobody here owns go to the forwarder (CoreDNS's ``fallthrough in-addr.arpa ip6.arpa``);
- NXDOMAIN for names that cannot exist (unknown namespace or Service, malformed names — so the search-path
  probes of ``ndots:5`` fail at once), NOERROR without answers (NODATA) for names that exist without records of
  the asked type; both carry the zone's SOA (TTL 5) in the authority section. ``dns-version.<zone>`` TXT is
  ``1.1.0`` (the Kubernetes DNS specification's schema version); ``ns.dns.<zone>`` is the DNS Service's address.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A

from pybernetes.dns import names
from pybernetes.dns.cluster import ClusterRecords

DEFAULT_TTL = 5
VERSION_TTL = 28800
SCHEMA_VERSION = "1.1.0"
MAX_CNAME_CHAIN = 10
POD_MODES = ("verified", "insecure", "disabled")


@dataclass(slots=True)
class Answer:
    """A response's content. ``forward``: the name is not ours to answer, ask upstream. ``chase``: an
    out-of-zone CNAME target whose records (of the query's type) belong after ``answer``'s CNAME."""

    rcode: int = RCODE.NOERROR
    answer: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    forward: bool = False
    chase: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing a name stands for (CoreDNS's ``msg.Service``): an address or, for ExternalName, a host name;
    the port and the name an SRV record points at."""

    host: str
    port: int = -1
    target: str = ""

    @property
    def version(self) -> int:
        """4 or 6 for an address, 0 for a name."""
        try:
            return ipaddress.ip_address(self.host).version
        except ValueError:
            return 0


class NoSuchName(Exception):
    """The name does not exist (NXDOMAIN)."""


def _match(a: str, b: str) -> bool:
    return a == "" or a == b


class Resolver:
    """Answers queries for ``zone`` and the reverse zones from ``records``.

    ``dns_service`` is the (namespace, name) of the cluster DNS Service, whose ClusterIPs are the zone's name
    server ``ns.dns.<zone>``; ``local_ips`` stand in for them until it exists."""

    def __init__(self, records: ClusterRecords, *, zone: str = "cluster.local", ttl: int = DEFAULT_TTL,
                 pod_mode: str = "verified", dns_service: tuple[str, str] = ("kube-system", "kube-dns"),
                 local_ips: Sequence[str] = ()) -> None:
        if pod_mode not in POD_MODES:
            raise ValueError(f"pod mode must be one of {POD_MODES}, not {pod_mode!r}")
        self.records = records
        self.zone = names.normalize(zone)
        self.ttl = ttl
        self.pod_mode = pod_mode
        self.dns_service = dns_service
        self.local_ips = tuple(local_ips)

    # ------------------------------------------------------------------------------------------ entry point
    def owns(self, name: str) -> bool:
        """Queries for ``name`` (normalized) are answered here (the zone) or tried here first (reverse)."""
        return names.in_zone(name, self.zone) or names.is_reverse(name)

    def resolve(self, qname: str, qtype: int) -> Answer:
        """The answer to ``qname`` (as asked: its spelling is kept in the records) of type ``qtype``."""
        name = names.normalize(qname)
        if names.is_reverse(name) and not names.in_zone(name, self.zone):
            return self._reverse(qname, name, qtype)
        if not names.in_zone(name, self.zone):
            return Answer(forward=True)
        if qtype in (QTYPE.AXFR, QTYPE.IXFR):
            return Answer(rcode=RCODE.REFUSED)
        out = Answer()
        try:
            if qtype == QTYPE.A or qtype == QTYPE.AAAA:
                self._address(out, qname, name, 4 if qtype == QTYPE.A else 6, [])
            elif qtype == QTYPE.TXT:
                self._txt(out, qname, name)
            elif qtype == QTYPE.SRV:
                self._srv(out, qname, name)
            elif qtype == QTYPE.CNAME:
                entries = self._entries(name)
                if entries and entries[0].version == 0:
                    out.answer.append(self._rr(qname, QTYPE.CNAME, CNAME(entries[0].host + ".")))
            elif qtype == QTYPE.PTR:
                for e in self._entries(name):
                    if e.version == 0:
                        out.answer.append(self._rr(qname, QTYPE.PTR, PTR(e.host + ".")))
            elif qtype == QTYPE.SOA:
                if name == self.zone:
                    out.answer.append(self.soa())
            elif qtype == QTYPE.NS and name == self.zone:
                self._ns(out, qname)
            else:                       # MX and everything else: exists (NODATA) or not (NXDOMAIN)
                self._entries(name)
        except (NoSuchName, names.InvalidName):
            if not self.records.synced:
                return Answer(rcode=RCODE.SERVFAIL)      # an empty cache must not deny names that exist
            return Answer(rcode=RCODE.NXDOMAIN, authority=[self.soa()])
        if not out.answer and not out.chase:
            out.additional.clear()
            out.authority = [self.soa()]
        return out

    # ------------------------------------------------------------------------------------------ records
    def _rr(self, owner: str, rtype: int, rdata: object, ttl: int | None = None) -> RR:
        return RR(owner, rtype, ttl=self.ttl if ttl is None else ttl, rdata=rdata)

    def soa(self) -> RR:
        ttl = min(self.ttl, 300)
        return RR(self.zone + ".", QTYPE.SOA, ttl=ttl,
                  rdata=SOA(f"ns.dns.{self.zone}.", f"hostmaster.{self.zone}.",
                            (self.records.serial & 0xFFFFFFFF, 7200, 1800, 86400, self.ttl)))

    def _address(self, out: Answer, qname: str, name: str, version: int, chain: list[str]) -> None:
        seen: set[str] = set()
        entries = [] if name == self.zone else self._entries(name)
        for e in entries:
            v = e.version
            if v == version and e.host not in seen:
                seen.add(e.host)
                out.answer.append(self._rr(qname, QTYPE.A if v == 4 else QTYPE.AAAA,
                                           A(e.host) if v == 4 else AAAA(e.host)))
            elif v == 0:
                self._cname(out, qname, e.host, version, chain)

    def _cname(self, out: Answer, qname: str, target: str, version: int, chain: list[str]) -> None:
        target_n = names.normalize(target)
        if target_n == names.normalize(qname) or len(chain) > MAX_CNAME_CHAIN or target_n in chain:
            return
        rr = self._rr(qname, QTYPE.CNAME, CNAME(target_n + "."))
        if not names.in_zone(target_n, self.zone):
            out.answer.append(rr)
            out.chase = target_n
            return
        sub = Answer()
        try:
            self._address(sub, target_n, target_n, version, [*chain, target_n])
        except (NoSuchName, names.InvalidName):
            return
        if sub.answer:
            out.answer.append(rr)
            out.answer.extend(sub.answer)
            out.chase = out.chase or sub.chase

    def _txt(self, out: Answer, qname: str, name: str) -> None:
        base = names.trim_zone(name, self.zone)
        if base == "dns-version":
            out.answer.append(self._rr(qname, QTYPE.TXT, TXT(SCHEMA_VERSION), VERSION_TTL))

    def _srv(self, out: Answer, qname: str, name: str) -> None:
        entries = [e for e in self._entries(name) if e.version != 0]
        total = 100 * len(entries)
        dup: set[tuple[str, int | str]] = set()
        for e in entries:
            if e.port == -1:
                continue
            weight = max(1, math.floor(100.0 / total * 100))
            target = e.target + "."
            if (target, e.port) not in dup:
                dup.add((target, e.port))
                out.answer.append(self._rr(qname, QTYPE.SRV, SRV(0, weight, e.port, target)))
            if (target, e.host) not in dup:
                dup.add((target, e.host))
                v4 = e.version == 4
                out.additional.append(self._rr(target, QTYPE.A if v4 else QTYPE.AAAA,
                                               A(e.host) if v4 else AAAA(e.host)))

    def _ns(self, out: Answer, qname: str) -> None:
        ns_name = f"ns.dns.{self.zone}."
        for ip in self._ns_ips():
            v4 = ipaddress.ip_address(ip).version == 4
            out.additional.append(self._rr(ns_name, QTYPE.A if v4 else QTYPE.AAAA, A(ip) if v4 else AAAA(ip)))
        if out.additional:
            out.answer.append(self._rr(qname, QTYPE.NS, NS(ns_name)))

    def _ns_ips(self) -> tuple[str, ...]:
        svc = self.records.service(*self.dns_service)
        return svc.cluster_ips if svc is not None and svc.cluster_ips else self.local_ips

    # ------------------------------------------------------------------------------------------ lookups
    def _entries(self, name: str) -> list[Entry]:
        """What ``name`` (normalized, in the zone) stands for; raises NoSuchName when it does not exist."""
        if name == f"ns.dns.{self.zone}":
            return [Entry(host=ip) for ip in self._ns_ips()]
        r = names.parse_request(name, self.zone)
        if not r.kind:
            return []
        if r.namespace not in self.records.namespaces:
            raise NoSuchName(name)
        if r.kind == names.POD:
            return self._pods(r)
        return self._services(r)

    def _pods(self, r: names.Request) -> list[Entry]:
        if self.pod_mode == "disabled":
            raise NoSuchName(r.service)
        if not r.service:
            return []
        ip = names.pod_ip_from_label(r.service)
        if not ip:
            raise NoSuchName(r.service)
        if self.pod_mode == "verified" and r.namespace not in self.records.pod_namespaces_by_ip(ip):
            raise NoSuchName(r.service)
        return [Entry(host=ip)]

    def _services(self, r: names.Request) -> list[Entry]:
        if not r.service:
            return []
        svc = self.records.service(r.namespace, r.service)
        if svc is None:
            raise NoSuchName(r.service)
        base = f"{svc.name}.{svc.namespace}.svc.{self.zone}"
        entries: list[Entry] = []
        if svc.external_name:
            if r.endpoint or r.port or r.protocol or not svc.external_name.strip("."):
                raise NoSuchName(r.service)
            host = svc.external_name.rstrip(".")
            try:
                ipaddress.ip_address(host)
            except ValueError:
                return [Entry(host=host, target=base)]
            raise NoSuchName(r.service)             # an address is not a CNAME target: nothing to answer
        found = False
        if svc.headless or r.endpoint:
            for sl in self.records.slices_of(svc.namespace, svc.name):
                for ep in sl.endpoints:
                    if r.endpoint and r.endpoint != ep.hostname:
                        continue
                    for p in sl.ports:
                        if _match(r.port, p.name) and _match(r.protocol, p.protocol):
                            found = True
                            entries.append(Entry(host=ep.ip, port=p.port, target=f"{ep.hostname}.{base}"))
        else:
            for p in svc.ports:
                if _match(r.port, p.name) and _match(r.protocol, p.protocol):
                    found = True
                    entries.extend(Entry(host=ip, port=p.port, target=base) for ip in svc.cluster_ips)
        if not found:
            raise NoSuchName(r.service)
        return entries

    # ------------------------------------------------------------------------------------------ reverse
    def _reverse(self, qname: str, name: str, qtype: int) -> Answer:
        if qtype != QTYPE.PTR:
            return Answer(forward=True)
        ip = names.address_from_reverse(name)
        if not ip:
            return Answer(forward=True)
        targets = self.ptr_targets(ip)
        if not targets:
            return Answer(forward=True)
        return Answer(answer=[self._rr(qname, QTYPE.PTR, PTR(t + ".")) for t in targets])

    def ptr_targets(self, ip: str) -> list[str]:
        """The names an address has here: its Service's (a ClusterIP), else its endpoints'."""
        for svc in self.records.services_by_ip(ip):
            return [f"{svc.name}.{svc.namespace}.svc.{self.zone}"]
        out: list[str] = []
        for sl in self.records.slices_by_ip(ip):
            for ep in sl.endpoints:
                if ep.ip == ip:
                    t = f"{ep.hostname}.{sl.service}.{sl.namespace}.svc.{self.zone}"
                    if t not in out:
                        out.append(t)
        return out
