"""Answers of the cluster zone, table-driven against one small cluster (CoreDNS's kubernetes plugin's rules)."""

from __future__ import annotations

from typing import Any

import pytest
from dnslib import QTYPE, RCODE

from pybernetes.dns.cluster import ClusterRecords
from pybernetes.dns.records import Answer, Resolver

Obj = dict[str, Any]


def svc(ns: str, name: str, *, ip: str = "", ips: list[str] | None = None, ports: list[Obj] | None = None,
        typ: str = "ClusterIP", external: str = "") -> Obj:
    spec: Obj = {"type": typ, "ports": ports if ports is not None else [{"name": "http", "port": 80,
                                                                          "protocol": "TCP"}]}
    if ip:
        spec["clusterIP"] = ip
        spec["clusterIPs"] = ips or [ip]
    if external:
        spec["externalName"] = external
    return {"metadata": {"namespace": ns, "name": name}, "spec": spec}


def eps(ns: str, name: str, service: str, endpoints: list[Obj], ports: list[Obj] | None = None) -> Obj:
    return {"metadata": {"namespace": ns, "name": name, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": ports if ports is not None else [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def ep(ip: str, *, hostname: str = "", ready: bool | None = True) -> Obj:
    out: Obj = {"addresses": [ip], "conditions": {} if ready is None else {"ready": ready}}
    if hostname:
        out["hostname"] = hostname
    return out


def pod(ns: str, name: str, ip: str, phase: str = "Running") -> Obj:
    return {"metadata": {"namespace": ns, "name": name}, "status": {"phase": phase, "podIP": ip,
                                                                    "podIPs": [{"ip": ip}]}}


@pytest.fixture
def records() -> ClusterRecords:
    r = ClusterRecords(clock=lambda: 1_700_000_000)
    for ns in ("default", "kube-system", "apps"):
        r.set_namespace({"metadata": {"name": ns}})
    r.set_service(svc("default", "nginx", ip="10.43.0.20"))
    r.set_service(svc("default", "dual", ip="10.43.0.21", ips=["10.43.0.21", "fd00:43::21"]))
    r.set_service(svc("kube-system", "kube-dns", ip="10.43.0.10", ports=[
        {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]))
    r.set_service(svc("apps", "web", ip="None"))
    r.set_slice(eps("apps", "web-1", "web", [ep("10.42.1.5", hostname="web-0"), ep("10.42.2.6", hostname="web-1"),
                                             ep("10.42.3.7", ready=False)]))
    r.set_slice(eps("apps", "web-2", "web", [ep("10.42.3.8", ready=None)]))
    r.set_service(svc("apps", "empty", ip="None"))
    r.set_service(svc("apps", "ext", typ="ExternalName", external="example.com", ports=[]))
    r.set_service(svc("apps", "alias", typ="ExternalName", external="nginx.default.svc.cluster.local", ports=[]))
    r.set_service(svc("apps", "ext-ip", typ="ExternalName", external="192.0.2.9", ports=[]))
    r.set_slice(eps("default", "nginx-x", "nginx", [ep("10.42.1.9")]))
    r.set_pod(pod("default", "p1", "10.42.1.9"))
    r.set_pod(pod("apps", "done", "10.42.1.10", phase="Succeeded"))
    r.synced = True
    return r


def rendered(a: Answer) -> tuple[str, list[str], list[str]]:
    def short(rr: Any) -> str:
        return f"{rr.rname} {QTYPE.get(rr.rtype)} {rr.rdata}"
    return RCODE.get(a.rcode), [short(rr) for rr in a.answer], [short(rr) for rr in a.additional]


@pytest.mark.parametrize(("qname", "qtype", "rcode", "answer"), [
    # ClusterIP Services: their address; AAAA of an IPv4-only Service is NODATA; dual-stack answers both
    ("nginx.default.svc.cluster.local.", "A", "NOERROR", ["nginx.default.svc.cluster.local. A 10.43.0.20"]),
    ("NGINX.Default.svc.cluster.local.", "A", "NOERROR", ["NGINX.Default.svc.cluster.local. A 10.43.0.20"]),
    ("nginx.default.svc.cluster.local.", "AAAA", "NOERROR", []),
    ("dual.default.svc.cluster.local.", "AAAA", "NOERROR", ["dual.default.svc.cluster.local. AAAA fd00:43::21"]),
    ("dual.default.svc.cluster.local.", "A", "NOERROR", ["dual.default.svc.cluster.local. A 10.43.0.21"]),
    # names that do not exist: NXDOMAIN (the ndots:5 search-path probes among them)
    ("nope.default.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("nginx.nope.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("nginx.default.svc.cluster.local.default.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("nginx.default.svc.cluster.local.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("nginx.default.svc.cluster.local.cluster.local.", "A", "NXDOMAIN", []),
    ("nginx.default.svc.cluster.local.", "MX", "NOERROR", []),
    ("nope.default.svc.cluster.local.", "MX", "NXDOMAIN", []),
    # names that exist without records
    ("default.svc.cluster.local.", "A", "NOERROR", []),
    ("nope.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("svc.cluster.local.", "A", "NOERROR", []),
    ("cluster.local.", "A", "NOERROR", []),
    # headless: ready endpoints (a missing ready condition counts as ready); none at all → NXDOMAIN
    ("web.apps.svc.cluster.local.", "A", "NOERROR", ["web.apps.svc.cluster.local. A 10.42.1.5",
                                                     "web.apps.svc.cluster.local. A 10.42.2.6",
                                                     "web.apps.svc.cluster.local. A 10.42.3.8"]),
    ("empty.apps.svc.cluster.local.", "A", "NXDOMAIN", []),
    # StatefulSet-style hostnames and dashed endpoint IPs
    ("web-0.web.apps.svc.cluster.local.", "A", "NOERROR", ["web-0.web.apps.svc.cluster.local. A 10.42.1.5"]),
    ("10-42-3-8.web.apps.svc.cluster.local.", "A", "NOERROR",
     ["10-42-3-8.web.apps.svc.cluster.local. A 10.42.3.8"]),
    ("web-9.web.apps.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("10-42-1-9.nginx.default.svc.cluster.local.", "A", "NOERROR",
     ["10-42-1-9.nginx.default.svc.cluster.local. A 10.42.1.9"]),
    # ExternalName: a CNAME; inside the zone it is followed here
    ("ext.apps.svc.cluster.local.", "CNAME", "NOERROR", ["ext.apps.svc.cluster.local. CNAME example.com."]),
    ("alias.apps.svc.cluster.local.", "A", "NOERROR",
     ["alias.apps.svc.cluster.local. CNAME nginx.default.svc.cluster.local.",
      "nginx.default.svc.cluster.local. A 10.43.0.20"]),
    ("ext-ip.apps.svc.cluster.local.", "A", "NXDOMAIN", []),
    ("_http._tcp.ext.apps.svc.cluster.local.", "SRV", "NXDOMAIN", []),
    # pods (verified): only addresses of running pods in that namespace
    ("10-42-1-9.default.pod.cluster.local.", "A", "NOERROR", ["10-42-1-9.default.pod.cluster.local. A 10.42.1.9"]),
    ("10-42-1-9.apps.pod.cluster.local.", "A", "NXDOMAIN", []),
    ("10-42-1-10.apps.pod.cluster.local.", "A", "NXDOMAIN", []),
    ("default.pod.cluster.local.", "A", "NOERROR", []),
    # the zone itself
    ("dns-version.cluster.local.", "TXT", "NOERROR", ['dns-version.cluster.local. TXT "1.1.0"']),
    ("cluster.local.", "NS", "NOERROR", ["cluster.local. NS ns.dns.cluster.local."]),
    ("ns.dns.cluster.local.", "A", "NOERROR", ["ns.dns.cluster.local. A 10.43.0.10"]),
    ("cluster.local.", "AXFR", "REFUSED", []),
    # PTR: ClusterIPs name their Service, endpoint addresses their endpoint
    ("20.0.43.10.in-addr.arpa.", "PTR", "NOERROR", ["20.0.43.10.in-addr.arpa. PTR nginx.default.svc.cluster.local."]),
    ("5.1.42.10.in-addr.arpa.", "PTR", "NOERROR", ["5.1.42.10.in-addr.arpa. PTR web-0.web.apps.svc.cluster.local."]),
    ("8.3.42.10.in-addr.arpa.", "PTR", "NOERROR",
     ["8.3.42.10.in-addr.arpa. PTR 10-42-3-8.web.apps.svc.cluster.local."]),
])
def test_answers(records: ClusterRecords, qname: str, qtype: str, rcode: str, answer: list[str]) -> None:
    got = Resolver(records).resolve(qname, getattr(QTYPE, qtype))
    assert not got.forward
    assert rendered(got)[:2] == (rcode, answer)
    soa = [rr for rr in got.authority if rr.rtype == QTYPE.SOA]
    if rcode in ("NXDOMAIN", "NOERROR") and not answer:
        assert len(soa) == 1 and str(soa[0].rname) == "cluster.local." and soa[0].ttl == 5
    else:
        assert not soa
    assert all(rr.ttl == (28800 if qtype == "TXT" else 5) for rr in got.answer)


@pytest.mark.parametrize(("qname", "qtype", "answer", "additional"), [
    ("_http._tcp.nginx.default.svc.cluster.local.", "SRV",
     ["_http._tcp.nginx.default.svc.cluster.local. SRV 0 100 80 nginx.default.svc.cluster.local."],
     ["nginx.default.svc.cluster.local. A 10.43.0.20"]),
    ("_dns._udp.kube-dns.kube-system.svc.cluster.local.", "SRV",
     ["_dns._udp.kube-dns.kube-system.svc.cluster.local. SRV 0 100 53 kube-dns.kube-system.svc.cluster.local."],
     ["kube-dns.kube-system.svc.cluster.local. A 10.43.0.10"]),
    ("kube-dns.kube-system.svc.cluster.local.", "SRV",           # no port given: every port, weight shared
     ["kube-dns.kube-system.svc.cluster.local. SRV 0 50 53 kube-dns.kube-system.svc.cluster.local."],
     ["kube-dns.kube-system.svc.cluster.local. A 10.43.0.10"]),
    ("_http._tcp.web.apps.svc.cluster.local.", "SRV",            # headless: one per endpoint, its own name
     ["_http._tcp.web.apps.svc.cluster.local. SRV 0 33 8080 web-0.web.apps.svc.cluster.local.",
      "_http._tcp.web.apps.svc.cluster.local. SRV 0 33 8080 web-1.web.apps.svc.cluster.local.",
      "_http._tcp.web.apps.svc.cluster.local. SRV 0 33 8080 10-42-3-8.web.apps.svc.cluster.local."],
     ["web-0.web.apps.svc.cluster.local. A 10.42.1.5", "web-1.web.apps.svc.cluster.local. A 10.42.2.6",
      "10-42-3-8.web.apps.svc.cluster.local. A 10.42.3.8"]),
])
def test_srv(records: ClusterRecords, qname: str, qtype: str, answer: list[str], additional: list[str]) -> None:
    got = Resolver(records).resolve(qname, getattr(QTYPE, qtype))
    assert rendered(got) == ("NOERROR", answer, additional)


@pytest.mark.parametrize("qname", ["_https._tcp.nginx.default.svc.cluster.local.",
                                   "_http._udp.nginx.default.svc.cluster.local."])
def test_srv_of_a_port_the_service_lacks_is_nxdomain(records: ClusterRecords, qname: str) -> None:
    assert Resolver(records).resolve(qname, QTYPE.SRV).rcode == RCODE.NXDOMAIN


def test_an_external_cname_target_is_left_for_the_forwarder(records: ClusterRecords) -> None:
    got = Resolver(records).resolve("ext.apps.svc.cluster.local.", QTYPE.A)
    assert got.chase == "example.com"
    assert rendered(got)[1] == ["ext.apps.svc.cluster.local. CNAME example.com."]


@pytest.mark.parametrize(("qname", "qtype"), [
    ("example.com.", "A"), ("localhost.", "AAAA"), ("1.2.0.192.in-addr.arpa.", "PTR"),
    ("20.0.43.10.in-addr.arpa.", "A"), ("in-addr.arpa.", "PTR")])
def test_names_not_ours_are_forwarded(records: ClusterRecords, qname: str, qtype: str) -> None:
    assert Resolver(records).resolve(qname, getattr(QTYPE, qtype)).forward


def test_pod_modes(records: ClusterRecords) -> None:
    q = "10-42-7-7.apps.pod.cluster.local."
    assert Resolver(records, pod_mode="verified").resolve(q, QTYPE.A).rcode == RCODE.NXDOMAIN
    assert rendered(Resolver(records, pod_mode="insecure").resolve(q, QTYPE.A))[1] == [f"{q} A 10.42.7.7"]
    assert Resolver(records, pod_mode="insecure").resolve("x.nope.pod.cluster.local.", QTYPE.A).rcode == \
        RCODE.NXDOMAIN
    assert Resolver(records, pod_mode="disabled").resolve("10-42-1-9.default.pod.cluster.local.",
                                                          QTYPE.A).rcode == RCODE.NXDOMAIN


def test_unsynced_records_never_deny_a_name(records: ClusterRecords) -> None:
    records.synced = False
    assert Resolver(records).resolve("nope.default.svc.cluster.local.", QTYPE.A).rcode == RCODE.SERVFAIL


def test_updates_and_deletes_follow_the_informers(records: ClusterRecords) -> None:
    r = Resolver(records)
    records.set_service(svc("default", "nginx", ip="10.43.0.99"))
    assert rendered(r.resolve("nginx.default.svc.cluster.local.", QTYPE.A))[1] == \
        ["nginx.default.svc.cluster.local. A 10.43.0.99"]
    assert r.resolve("20.0.43.10.in-addr.arpa.", QTYPE.PTR).forward          # the old ClusterIP is gone
    records.remove_service(svc("default", "nginx"))
    assert r.resolve("nginx.default.svc.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN
    records.set_slice(eps("apps", "web-1", "web", [ep("10.42.1.5", hostname="web-0", ready=False)]))
    records.remove_slice(eps("apps", "web-2", "web", []))
    assert rendered(r.resolve("web.apps.svc.cluster.local.", QTYPE.A))[1] == []
    assert r.resolve("web.apps.svc.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN
    records.remove_namespace({"metadata": {"name": "apps"}})
    assert r.resolve("apps.svc.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN
    records.set_pod(pod("default", "p1", "10.42.1.9", phase="Failed"))
    assert r.resolve("10-42-1-9.default.pod.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN


def test_soa_serial_is_the_time_of_the_last_change() -> None:
    now = [1_700_000_000.0]
    records = ClusterRecords(clock=lambda: now[0])
    records.synced = True
    now[0] += 60
    records.set_namespace({"metadata": {"name": "default"}})
    soa = Resolver(records).resolve("cluster.local.", QTYPE.SOA).answer[0]
    assert soa.rdata.times == (1_700_000_060, 7200, 1800, 86400, 5)
    assert str(soa.rdata.mname) == "ns.dns.cluster.local." and str(soa.rdata.rname) == "hostmaster.cluster.local."


def test_other_zones() -> None:
    records = ClusterRecords()
    records.synced = True
    records.set_namespace({"metadata": {"name": "default"}})
    records.set_service(svc("default", "nginx", ip="10.43.0.20"))
    r = Resolver(records, zone="corp.example")
    assert rendered(r.resolve("nginx.default.svc.corp.example.", QTYPE.A))[1] == \
        ["nginx.default.svc.corp.example. A 10.43.0.20"]
    assert r.resolve("nginx.default.svc.cluster.local.", QTYPE.A).forward
    with pytest.raises(ValueError):
        Resolver(records, pod_mode="sometimes")
