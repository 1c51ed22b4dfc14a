"""Services + EndpointSlices → nftables rules: which Services get rules, which endpoints are used (upstream
CategorizeEndpoints), and golden rules for the typical Service shapes. Chain-name hashes are stripped from the
goldens (``service-ns/web/tcp/http``); ``test_names_*`` checks the hashes themselves."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from pybernetes.proxy import rules
from pybernetes.proxy.nft import Fragment
from pybernetes.proxy.rules import Endpoint, ServicePort, categorize, endpoints_for, service_ports

Obj = dict[str, Any]
HASH = re.compile(r"\b[A-Z2-7]{8}-")


def service(*, type_: str = "ClusterIP", ip: str = "10.43.0.10", ports: list[Obj] | None = None, **spec: Any) -> Obj:
    status = spec.pop("status", {})
    return {"metadata": {"name": "web", "namespace": "ns"},
            "spec": {"type": type_, "clusterIP": ip, "clusterIPs": [ip],
                     "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP"}], **spec},
            "status": status}


def slice_(*eps: Obj, port: int = 8080, name: str = "http", protocol: str = "TCP", family: str = "IPv4") -> Obj:
    return {"addressType": family, "metadata": {"name": "web-x", "namespace": "ns",
                                                "labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"name": name, "port": port, "protocol": protocol}], "endpoints": list(eps)}


def ep(ip: str, node: str = "n1", **conditions: bool) -> Obj:
    return {"addresses": [ip], "nodeName": node, "conditions": conditions}


def golden(frag: Fragment) -> list[str]:
    """Chains with their rules, then map elements, then sets: one line each, hashes stripped."""
    out = []
    for name, chain in frag.chains.items():
        out.append(f"{name}:")
        out.extend(f"  {r}" for r in chain.rules)
    out.extend(f"{m}[{k}] = {v}" if v else f"{m}[{k}]" for (m, k), v in frag.elements.items())
    out.extend(f"{s.kind} {n}: {s.spec}" for n, s in frag.sets.items())
    return [HASH.sub("", line) for line in out]


# ---------------------------------------------------------------------------------------------------- services

@pytest.mark.parametrize("svc", [
    service(ip="None"),                                                        # headless
    service(type_="ExternalName", ip="", externalName="example.com"),
    service(ip=""),                                                            # not allocated (yet)
    service(ip="fd00::10"),                                                    # IPv6 only: not this proxy's
    {**service(), "metadata": {"name": "web", "namespace": "ns",
                               "labels": {"service.kubernetes.io/service-proxy-name": "other"}}},
])
def test_services_without_rules(svc: Obj) -> None:
    assert service_ports(svc) == []
    assert not rules.service_fragment(svc, [slice_(ep("10.42.0.5"))], node="n1")


def test_service_ports_read_every_field() -> None:
    svc = service(type_="LoadBalancer", ports=[{"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}],
                  externalIPs=["192.0.2.7", "2001:db8::7"], sessionAffinity="ClientIP",
                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}, externalTrafficPolicy="Local",
                  internalTrafficPolicy="Local", healthCheckNodePort=31000, loadBalancerSourceRanges=["10.0.0.0/8 "],
                  status={"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"ip": "192.0.2.2", "ipMode": "Proxy"},
                                                       {"hostname": "lb.example"}]}})
    assert service_ports(svc) == [ServicePort(
        namespace="ns", name="web", port_name="dns", protocol="udp", port=53, node_port=30053,
        cluster_ip="10.43.0.10", external_ips=("192.0.2.7",), lb_ips=("192.0.2.1",), source_ranges=("10.0.0.0/8",),
        affinity_timeout=60, external_local=True, internal_local=True, health_check_node_port=31000)]


@pytest.mark.parametrize("spec, affinity, external_local", [
    ({"sessionAffinity": "ClientIP"}, 10800, False),               # upstream's default timeout: 3 hours
    ({"sessionAffinity": "None"}, 0, False),
    ({"externalTrafficPolicy": "Local"}, 0, False),                # a ClusterIP Service is not reachable from outside
    ({"externalTrafficPolicy": "Local", "externalIPs": ["192.0.2.9"]}, 0, True),
])
def test_affinity_and_external_policy(spec: Obj, affinity: int, external_local: bool) -> None:
    (sp,) = service_ports(service(**spec))
    assert (sp.affinity_timeout, sp.external_local) == (affinity, external_local)


def test_malformed_addresses_never_reach_a_rule() -> None:
    svc = service(type_="LoadBalancer", externalIPs=["192.0.2.300", "192.0.2.7"], loadBalancerSourceRanges=[
        "10.0.0.1/8", "nonsense", "fd00::/8"], status={"loadBalancer": {"ingress": [{"ip": "01.2.3.4"}]}})
    (sp,) = service_ports(svc)
    assert (sp.external_ips, sp.source_ranges, sp.lb_ips) == (("192.0.2.7",), ("10.0.0.0/8",), ())
    assert [e.ip for e in endpoints_for(SP, [slice_(ep("10.42.0.300"), ep("10.42.0.5"), ep(" 10.42.0.6"))])] == [
        "10.42.0.5"]


def test_a_nodeport_of_a_clusterip_service_is_ignored() -> None:
    (sp,) = service_ports(service(ports=[{"port": 80, "nodePort": 30000}]))
    assert sp.node_port == 0


# ---------------------------------------------------------------------------------------------------- endpoints

SP = ServicePort(namespace="ns", name="web", port_name="http", protocol="tcp", port=80, cluster_ip="10.43.0.10")


def test_endpoints_match_the_port_by_name_and_protocol_and_take_the_first_address() -> None:
    slices = [slice_(ep("10.42.0.9"), ep("10.42.0.5")),
              slice_(ep("10.42.0.6"), name="metrics", port=9090),
              slice_(ep("10.42.0.7"), protocol="UDP"),
              slice_(ep("fd00::1"), family="IPv6"),
              slice_({"addresses": ["10.42.0.8", "10.42.0.99"], "conditions": {}}, {"addresses": []})]
    assert [e.addr for e in endpoints_for(SP, slices)] == ["10.42.0.5:8080", "10.42.0.8:8080", "10.42.0.9:8080"]


@pytest.mark.parametrize("conditions, ready, serving, terminating", [
    ({}, True, True, False),                                         # unset conditions: ready (upstream)
    ({"ready": False}, False, False, False),                         # serving follows ready when unset
    ({"ready": False, "serving": True, "terminating": True}, False, True, True),
    ({"ready": True, "serving": False}, True, False, False),
])
def test_endpoint_conditions(conditions: Obj, ready: bool, serving: bool, terminating: bool) -> None:
    (e,) = endpoints_for(SP, [slice_(ep("10.42.0.5", **conditions))])
    assert (e.ready, e.serving, e.terminating) == (ready, serving, terminating)


def test_duplicate_endpoints_across_slices_prefer_the_ready_one() -> None:
    (e,) = endpoints_for(SP, [slice_(ep("10.42.0.5", ready=False)), slice_(ep("10.42.0.5", ready=True))])
    assert e.ready


R1, R2 = Endpoint("10.42.0.1", 80, node="n1"), Endpoint("10.42.1.1", 80, node="n2")
T1 = Endpoint("10.42.0.2", 80, ready=False, serving=True, terminating=True, node="n1")
T2 = Endpoint("10.42.1.2", 80, ready=False, serving=True, terminating=True, node="n2")
N1 = Endpoint("10.42.0.3", 80, ready=False, serving=False, node="n1")
LOCAL_EXT = dict(node_port=30000, external_local=True)


@pytest.mark.parametrize("eps, sp_fields, cluster, local, has_any", [
    ([R1, R2, T1, N1], {}, [R1, R2], [], True),
    ([T1, T2, N1], {}, [T1, T2], [], True),                          # no ready endpoint: serving+terminating ones
    ([N1], {}, [], [], False),
    ([R1, R2], {"internal_local": True}, [], [R1], True),
    ([R2], {"internal_local": True}, [], [], True),                  # endpoints exist, none local
    ([R2, T1], {"internal_local": True}, [], [T1], True),            # the local fallback is independent
    ([R1, R2], LOCAL_EXT, [R1, R2], [R1], True),
    ([R2], LOCAL_EXT, [R2], [], True),
])
def test_categorize(eps: list[Endpoint], sp_fields: Obj, cluster: list[Endpoint], local: list[Endpoint],
                    has_any: bool) -> None:
    got = categorize(eps, dataclasses.replace(SP, **sp_fields), "n1")
    assert (list(got.cluster), list(got.local), got.has_any) == (cluster, local, has_any)
    assert set(got.reachable) == set(cluster) | set(local)


# ---------------------------------------------------------------------------------------------------- goldens

def test_clusterip_with_two_endpoints() -> None:
    frag = rules.service_fragment(service(), [slice_(ep("10.42.0.5"), ep("10.42.1.6", node="n2"))], node="n1")
    assert golden(frag) == [
        "service-ns/web/tcp/http:",
        "  ip daddr 10.43.0.10 tcp dport 80 ip saddr != @cluster-cidrs jump mark-for-masquerade",
        "  numgen random mod 2 vmap { 0 : goto endpoint-ns/web/tcp/http__10.42.0.5/8080, "
        "1 : goto endpoint-ns/web/tcp/http__10.42.1.6/8080 }",
        "endpoint-ns/web/tcp/http__10.42.0.5/8080:",
        "  ip saddr 10.42.0.5 jump mark-for-masquerade",
        "  meta l4proto tcp dnat to 10.42.0.5:8080",
        "endpoint-ns/web/tcp/http__10.42.1.6/8080:",
        "  ip saddr 10.42.1.6 jump mark-for-masquerade",
        "  meta l4proto tcp dnat to 10.42.1.6:8080",
        "service-ips[10.43.0.10 . tcp . 80] = goto service-ns/web/tcp/http"]


def test_nodeport_masquerades_external_traffic() -> None:
    svc = service(type_="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    assert golden(rules.service_fragment(svc, [slice_(ep("10.42.0.5"))], node="n1")) == [
        "service-ns/web/tcp/http:",
        "  ip daddr 10.43.0.10 tcp dport 80 ip saddr != @cluster-cidrs jump mark-for-masquerade",
        "  goto endpoint-ns/web/tcp/http__10.42.0.5/8080",
        "external-ns/web/tcp/http:",
        "  jump mark-for-masquerade",
        "  goto service-ns/web/tcp/http",
        "endpoint-ns/web/tcp/http__10.42.0.5/8080:",
        "  ip saddr 10.42.0.5 jump mark-for-masquerade",
        "  meta l4proto tcp dnat to 10.42.0.5:8080",
        "service-ips[10.43.0.10 . tcp . 80] = goto service-ns/web/tcp/http",
        "service-nodeports[tcp . 30080] = goto external-ns/web/tcp/http"]


def test_no_endpoints_reject_clusterip_and_nodeport() -> None:
    svc = service(type_="NodePort", ports=[{"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}])
    assert golden(rules.service_fragment(svc, [slice_(ep("10.42.0.5", ready=False))], node="n1")) == [
        "no-endpoint-services[10.43.0.10 . udp . 53] = goto reject-chain",
        "no-endpoint-nodeports[udp . 30053] = goto reject-chain"]


def test_external_policy_local_without_local_endpoints_drops_outside_traffic_only() -> None:
    svc = service(type_="NodePort", externalTrafficPolicy="Local",
                  ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    assert golden(rules.service_fragment(svc, [slice_(ep("10.42.1.6", node="n2"))], node="n1")) == [
        "service-ns/web/tcp/http:",
        "  ip daddr 10.43.0.10 tcp dport 80 ip saddr != @cluster-cidrs jump mark-for-masquerade",
        "  goto endpoint-ns/web/tcp/http__10.42.1.6/8080",
        "external-ns/web/tcp/http:",
        "  ip saddr @cluster-cidrs goto service-ns/web/tcp/http",          # pods: as if via an outside balancer
        "  fib saddr type local jump mark-for-masquerade",                 # the node itself
        "  fib saddr type local goto service-ns/web/tcp/http",
        "endpoint-ns/web/tcp/http__10.42.1.6/8080:",
        "  ip saddr 10.42.1.6 jump mark-for-masquerade",
        "  meta l4proto tcp dnat to 10.42.1.6:8080",
        "service-ips[10.43.0.10 . tcp . 80] = goto service-ns/web/tcp/http",
        "service-nodeports[tcp . 30080] = goto external-ns/web/tcp/http",
        "no-endpoint-nodeports[tcp . 30080] = drop"]


def test_external_policy_local_keeps_the_source_and_uses_local_endpoints() -> None:
    svc = service(type_="NodePort", externalTrafficPolicy="Local",
                  ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    frag = rules.service_fragment(svc, [slice_(ep("10.42.0.5"), ep("10.42.1.6", node="n2"))], node="n1")
    lines = golden(frag)
    assert lines[lines.index("external-ns/web/tcp/http:") + 4] == "  goto local-ns/web/tcp/http"
    assert lines[lines.index("local-ns/web/tcp/http:") + 1] == \
        "  goto endpoint-ns/web/tcp/http__10.42.0.5/8080"
    assert "  jump mark-for-masquerade" not in lines


def test_internal_policy_local() -> None:
    svc = service(internalTrafficPolicy="Local")
    assert golden(rules.service_fragment(svc, [slice_(ep("10.42.1.6", node="n2"))], node="n1")) == [
        "no-endpoint-services[10.43.0.10 . tcp . 80] = drop"]
    assert golden(rules.service_fragment(svc, [slice_(ep("10.42.0.5"), ep("10.42.1.6", node="n2"))], node="n1")) == [
        "local-ns/web/tcp/http:",
        "  ip daddr 10.43.0.10 tcp dport 80 ip saddr != @cluster-cidrs jump mark-for-masquerade",
        "  goto endpoint-ns/web/tcp/http__10.42.0.5/8080",
        "endpoint-ns/web/tcp/http__10.42.0.5/8080:",
        "  ip saddr 10.42.0.5 jump mark-for-masquerade",
        "  meta l4proto tcp dnat to 10.42.0.5:8080",
        "service-ips[10.43.0.10 . tcp . 80] = goto local-ns/web/tcp/http"]


def test_session_affinity_sets_and_rules() -> None:
    svc = service(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}})
    assert golden(rules.service_fragment(svc, [slice_(ep("10.42.0.5"))], node="n1")) == [
        "service-ns/web/tcp/http:",
        "  ip daddr 10.43.0.10 tcp dport 80 ip saddr != @cluster-cidrs jump mark-for-masquerade",
        "  ip saddr @affinity-ns/web/tcp/http__10.42.0.5/8080 goto endpoint-ns/web/tcp/http__10.42.0.5/8080",
        "  goto endpoint-ns/web/tcp/http__10.42.0.5/8080",
        "endpoint-ns/web/tcp/http__10.42.0.5/8080:",
        "  ip saddr 10.42.0.5 jump mark-for-masquerade",
        "  update @affinity-ns/web/tcp/http__10.42.0.5/8080 { ip saddr }",
        "  meta l4proto tcp dnat to 10.42.0.5:8080",
        "service-ips[10.43.0.10 . tcp . 80] = goto service-ns/web/tcp/http",
        "set affinity-ns/web/tcp/http__10.42.0.5/8080: type ipv4_addr; flags dynamic,timeout; timeout 30s;"]
    (affinity,) = rules.service_fragment(svc, [slice_(ep("10.42.0.5"))], node="n1").sets.values()
    assert affinity.dynamic                     # the kernel fills it; syncs never rewrite its elements


def test_load_balancer_ips_and_source_ranges() -> None:
    svc = service(type_="LoadBalancer", ports=[{"name": "http", "port": 80, "nodePort": 30080}],
                  loadBalancerSourceRanges=["10.0.0.0/8", "192.168.0.0/16"],
                  status={"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ipMode": "VIP"}]}})
    lines = golden(rules.service_fragment(svc, [slice_(ep("10.42.0.5"))], node="n1"))
    assert "firewall-ns/web/tcp/http:" in lines
    assert "  ip saddr != { 10.0.0.0/8, 192.168.0.0/16 } drop" in lines
    assert "service-ips[192.0.2.1 . tcp . 80] = goto external-ns/web/tcp/http" in lines
    assert "firewall-ips[192.0.2.1 . tcp . 80] = goto firewall-ns/web/tcp/http" in lines
    assert "service-nodeports[tcp . 30080] = goto external-ns/web/tcp/http" in lines


def test_external_ips_without_endpoints_are_rejected() -> None:
    svc = service(externalIPs=["192.0.2.9"])
    assert golden(rules.service_fragment(svc, [], node="n1")) == [
        "no-endpoint-services[10.43.0.10 . tcp . 80] = goto reject-chain",
        "no-endpoint-services[192.0.2.9 . tcp . 80] = goto reject-chain"]


def test_multi_port_service_gets_rules_per_port() -> None:
    svc = service(ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}])
    frag = rules.service_fragment(svc, [slice_(ep("10.42.0.5")), slice_(ep("10.42.0.5"), name="dns", port=5353,
                                                                      protocol="UDP")], node="n1")
    elements = {k: HASH.sub("", v) for k, v in frag.elements.items()}
    assert elements == {("service-ips", "10.43.0.10 . tcp . 80"): "goto service-ns/web/tcp/http",
                        ("service-ips", "10.43.0.10 . udp . 53"): "goto service-ns/web/udp/dns"}
    assert "  meta l4proto udp dnat to 10.42.0.5:5353" in golden(frag)


def test_base_fragment_golden() -> None:
    base = rules.base_fragment(cluster_cidrs=["10.42.1.0/24", "10.42.0.0/24", "fd00::/64", "junk"])
    assert base.elements == {("cluster-cidrs", "10.42.0.0/23"): ""}        # collapsed: interval sets refuse overlaps
    assert base.chains["nat-output"].hook == "type nat hook output priority -100; policy accept;"
    assert golden(Fragment(chains={k: base.chains[k] for k in ("services", "masquerading", "reject-chain",
                                                                 "nat-postrouting", "filter-input")})) == [
        "services:",
        "  ip daddr . meta l4proto . th dport vmap @service-ips",
        "  fib daddr type local meta l4proto . th dport vmap @service-nodeports",
        "masquerading:",
        "  meta mark & 0x00004000 == 0 return",
        "  meta mark set meta mark xor 0x00004000",
        "  masquerade fully-random",
        "reject-chain:",
        "  meta l4proto tcp reject with tcp reset",
        "  reject",
        "nat-postrouting:",
        "  jump masquerading",
        "  ip saddr @cluster-cidrs ip daddr != @cluster-cidrs masquerade",
        "filter-input:",
        "  ct state new jump endpoints-check",
        '  iifname != "lo" ip daddr 127.0.0.0/8 ct state != { established, related } ct status & dnat == 0 drop']


def test_names_are_hashed_and_fit() -> None:
    assert rules.hashed("ns/web/tcp/http") == "Y6QD5CCT-ns/web/tcp/http"
    long = rules.hashed("x" * 400)
    assert len(long) == rules.NAME_MAX - 16 and long.endswith("...")
    assert rules.hashed("x" * 400) != rules.hashed("x" * 399 + "y")
