"""Stale UDP flows: which conntrack entries upstream's CleanStaleEntries would delete, from real
``conntrack -L`` lines."""

from __future__ import annotations

from typing import Any

from pybernetes.proxy.conntrack import Entry, Frontends, parse_entries, stale_filters, udp_frontends

Obj = dict[str, Any]

LINES = "".join(line + "\n" for line in (  # real conntrack -L output
    "udp      17 29 src=10.42.0.7 dst=10.43.0.10 sport=41000 dport=53 [UNREPLIED]"
    " src=10.42.0.9 dst=10.42.0.7 sport=53 dport=41000 mark=0 use=1",
    "udp      17 118 src=10.42.0.7 dst=10.43.0.10 sport=41001 dport=53"
    " src=10.42.0.5 dst=10.42.0.7 sport=53 dport=41001 [ASSURED] mark=0 use=1",
    "udp      17 20 src=192.0.2.50 dst=192.0.2.2 sport=5000 dport=30053"
    " src=10.42.0.9 dst=10.42.0.1 sport=53 dport=5000 mark=0 use=1",
    "udp      17 20 src=10.42.0.7 dst=10.43.0.10 sport=41002 dport=53"
    " src=10.43.0.10 dst=10.42.0.7 sport=53 dport=41002 mark=0 use=1",
    "udp      17 20 src=10.42.0.7 dst=8.8.8.8 sport=41003 dport=53"
    " src=8.8.8.8 dst=10.42.0.7 sport=53 dport=41003 mark=0 use=1",
    "conntrack v1.4.7 (conntrack-tools): 5 flow entries have been shown.",
))


def test_parse_entries() -> None:
    assert parse_entries(LINES) == [Entry("10.43.0.10", 53, "10.42.0.9"), Entry("10.43.0.10", 53, "10.42.0.5"),
                                    Entry("192.0.2.2", 30053, "10.42.0.9"), Entry("10.43.0.10", 53, "10.43.0.10"),
                                    Entry("8.8.8.8", 53, "8.8.8.8")]


def test_stale_filters_keep_flows_to_serving_endpoints_only() -> None:
    fronts = Frontends(by_address={("10.43.0.10", 53): frozenset({"10.42.0.5"})},
                       by_node_port={30053: frozenset({"10.42.0.5"})})
    assert stale_filters(parse_entries(LINES), fronts) == [
        ("-p", "udp", "--orig-dst", "10.43.0.10", "--orig-port-dst", "53", "--reply-src", "10.42.0.9"),
        ("-p", "udp", "--orig-port-dst", "30053", "--reply-src", "10.42.0.9"),
        # a flow rejected while the Service had no endpoint (never translated): forgotten, so it gets one now
        ("-p", "udp", "--orig-dst", "10.43.0.10", "--orig-port-dst", "53", "--reply-src", "10.43.0.10")]


def test_no_frontends_no_filters() -> None:
    assert stale_filters(parse_entries(LINES), Frontends()) == []


def svc(name: str, protocol: str, **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"type": "NodePort", "clusterIP": "10.43.0.10", "externalIPs": ["192.0.2.9"],
                     "ports": [{"name": "dns", "port": 53, "protocol": protocol, "nodePort": 30053}], **spec}}


def test_udp_frontends_of_serving_endpoints() -> None:
    sl = {"addressType": "IPv4", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
          "endpoints": [{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.0.6"], "conditions": {"ready": False}},
                        {"addresses": ["10.42.0.7"], "conditions": {"ready": False, "serving": True,
                                                                    "terminating": True}}]}
    slices = {"kube-system/dns": [sl], "kube-system/empty": []}
    fronts = udp_frontends([svc("dns", "UDP"), svc("tcp", "TCP"), svc("empty", "UDP")],
                           lambda key: slices.get(key, []))
    serving = frozenset({"10.42.0.5", "10.42.0.7"})
    assert fronts == Frontends(by_address={("10.43.0.10", 53): serving, ("192.0.2.9", 53): serving},
                               by_node_port={30053: serving})
