"""NetworkPolicy semantics as truth tables, after upstream's e2e ``test/e2e/network/netpol`` cases: three
namespaces x, y, z with pods a, b, c each (label ``pod``), every pod serving TCP 80/81 and UDP 80 on named
ports ``serve-80-tcp``, ``serve-81-tcp``, ``serve-80-udp``. Each case lists its policies and the connections
that must be denied; every other pair must connect. The compiled rules are checked with a small evaluator
(the same meaning the nft rules have), then the nft rendering gets golden tests, and the e2e test runs real
packets through it."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from pybernetes.proxy import netpol
from pybernetes.proxy.netpol import Allow, Block, PodInfo, PodRules, PortRange

Obj = dict[str, Any]
NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
NS_LABELS = {ns: {"kubernetes.io/metadata.name": ns} for ns in NAMESPACES}


def ip_of(ns: str, pod: str) -> str:
    return f"10.42.{NAMESPACES.index(ns)}.{PODS.index(pod) + 2}"


def pod(ns: str, name: str, *, node: str = "n1", ports: tuple[tuple[str, str, int], ...] | None = None,
        ip: str = "") -> PodInfo:
    return PodInfo(namespace=ns, name=name, labels={"pod": name}, ips=(ip or ip_of(ns, name),), node=node,
                   ports=ports if ports is not None else (("serve-80-tcp", "tcp", 80), ("serve-81-tcp", "tcp", 81),
                                                           ("serve-80-udp", "udp", 80)))


ALL = [pod(ns, p) for ns in NAMESPACES for p in PODS]


def policy(name: str, ns: str = "x", *, select: Obj | None = None, ingress: list[Obj] | None = None,
           egress: list[Obj] | None = None, types: list[str] | None = None) -> Obj:
    spec: Obj = {"podSelector": select if select is not None else {}}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def allows(rules: tuple[Allow, ...] | None, peer: str, proto: str, port: int) -> bool:
    if rules is None:
        return True
    addr = ipaddress.IPv4Address(peer)
    for a in rules:
        if a.ips is not None and peer not in a.ips:
            continue
        if a.block is not None and (addr not in ipaddress.ip_network(a.block.cidr)
                                    or any(addr in ipaddress.ip_network(e) for e in a.block.excepts)):
            continue
        if a.ports is None or any(p.protocol == proto and (p.first is None or p.first <= port <= (p.last or 0))
                                  for p in a.ports):
            return True
    return False


def connectivity(policies: list[Obj], *, proto: str = "tcp", port: int = 80,
                 namespaces: dict[str, dict[str, str]] | None = None) -> set[tuple[str, str]]:
    """The denied (src, dst) pairs as ``ns/pod`` strings."""
    compiled = netpol.compile_rules(policies=policies, pods=ALL, namespaces=namespaces or NS_LABELS, targets=ALL)
    denied = set()
    for src, dst in itertools.product(ALL, ALL):
        if src.key == dst.key:
            continue                  # loopback: upstream's suite ignores it (plugins disagree)
        out, inn = compiled.get(src.key, PodRules()), compiled.get(dst.key, PodRules())
        if not (allows(out.egress, dst.ips[0], proto, port) and allows(inn.ingress, src.ips[0], proto, port)):
            denied.add((src.key, dst.key))
    return denied


def pairs(src: Callable[[str, str], bool], dst: Callable[[str, str], bool]) -> set[tuple[str, str]]:
    return {(s.key, d.key) for s in ALL for d in ALL if s.key != d.key
            and src(s.namespace, s.name) and dst(d.namespace, d.name)}


def anyone(_ns: str, _pod: str) -> bool:
    return True


def in_ns(*nss: str) -> Callable[[str, str], bool]:
    return lambda ns, _p: ns in nss


def is_pod(ns: str, name: str) -> Callable[[str, str], bool]:
    return lambda n, p: (n, p) == (ns, name)


def but(f: Callable[[str, str], bool], *exceptions: Callable[[str, str], bool]) -> Callable[[str, str], bool]:
    return lambda n, p: f(n, p) and not any(e(n, p) for e in exceptions)


XA = is_pod("x", "a")
POD_B = {"matchLabels": {"pod": "b"}}
NOT_X = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["x"]}]}
ONLY_Y = {"matchLabels": {"kubernetes.io/metadata.name": "y"}}
SELECT_A = {"matchLabels": {"pod": "a"}}

CASES: list[tuple[str, list[Obj], set[tuple[str, str]]]] = [
    ("no policy: everything connects", [], set()),
    ("default-deny-ingress", [policy("deny", ingress=[])], pairs(anyone, in_ns("x"))),
    ("default-deny-ingress (policyTypes only)", [policy("deny", types=["Ingress"])], pairs(anyone, in_ns("x"))),
    ("default-deny-all", [policy("deny", types=["Ingress", "Egress"])],
     pairs(anyone, in_ns("x")) | pairs(in_ns("x"), anyone)),
    ("allow x/a from x/b (podSelector)",
     [policy("p", select=SELECT_A, ingress=[{"from": [{"podSelector": POD_B}]}])],
     pairs(but(anyone, is_pod("x", "b")), XA)),
    ("deny-all then allow-all to a",
     [policy("deny", ingress=[]),
      policy("allow", select=SELECT_A, ingress=[{"from": [{"podSelector": {}, "namespaceSelector": {}}]}])],
     pairs(anyone, is_pod("x", "b")) | pairs(anyone, is_pod("x", "c"))),
    ("allow from all namespaces", [policy("p", select=SELECT_A, ingress=[{"from": [{"namespaceSelector": {}}]}])],
     set()),
    ("allow only from namespace y", [policy("p", select=SELECT_A, ingress=[{"from": [{"namespaceSelector": ONLY_Y}]}])],
     pairs(in_ns("x", "z"), XA)),
    ("podSelector with matchExpressions",
     [policy("p", select=SELECT_A, ingress=[{"from": [{"podSelector": {"matchExpressions": [
         {"key": "pod", "operator": "In", "values": ["b"]}]}}]}])],
     pairs(but(anyone, is_pod("x", "b")), XA)),
    ("podSelector OR namespaceSelector",
     [policy("p", select=SELECT_A, ingress=[{"from": [{"namespaceSelector": NOT_X}, {"podSelector": POD_B}]}])],
     pairs(is_pod("x", "c"), XA)),
    ("podSelector AND namespaceSelector",
     [policy("p", select=SELECT_A, ingress=[{"from": [{"namespaceSelector": NOT_X, "podSelector": POD_B}]}])],
     pairs(but(anyone, is_pod("y", "b"), is_pod("z", "b")), XA)),
    ("ports: only 81 is open", [policy("p", select=SELECT_A, ingress=[{"ports": [{"port": 81}]}])],
     pairs(anyone, XA)),
    ("named port serve-80-tcp", [policy("p", select=SELECT_A, ingress=[{"ports": [{"port": "serve-80-tcp"}]}])],
     set()),
    ("named port the target lacks", [policy("p", select=SELECT_A, ingress=[{"ports": [{"port": "nope"}]}])],
     pairs(anyone, XA)),
    ("named port of the wrong protocol",
     [policy("p", select=SELECT_A, ingress=[{"ports": [{"port": "serve-80-tcp", "protocol": "UDP"}]}])],
     pairs(anyone, XA)),
    ("endPort range 80-81", [policy("p", select=SELECT_A, ingress=[{"ports": [{"port": 80, "endPort": 81}]}])], set()),
    ("endPort range 81-90", [policy("p", select=SELECT_A, ingress=[{"ports": [{"port": 81, "endPort": 90}]}])],
     pairs(anyone, XA)),
    ("protocol without a port", [policy("p", select=SELECT_A, ingress=[{"ports": [{"protocol": "TCP"}]}])], set()),
    ("two policies are a union",
     [policy("p1", select=SELECT_A, ingress=[{"from": [{"podSelector": POD_B}]}]),
      policy("p2", select=SELECT_A, ingress=[{"from": [{"namespaceSelector": ONLY_Y}]}])],
     pairs(is_pod("x", "c"), XA) | pairs(in_ns("z"), XA)),
    ("egress deny only", [policy("p", types=["Egress"])], pairs(in_ns("x"), anyone)),
    ("egress to namespace y",
     [policy("p", select=SELECT_A, types=["Egress"], egress=[{"to": [{"namespaceSelector": ONLY_Y}]}])],
     pairs(XA, in_ns("x", "z"))),
    ("egress rules without policyTypes: Egress and (always) Ingress",
     [policy("p", select=SELECT_A, egress=[{"to": [{"namespaceSelector": ONLY_Y}]}])],
     pairs(XA, in_ns("x", "z")) | pairs(anyone, XA)),
    ("egress allow-all", [policy("p", types=["Egress"], egress=[{}])], set()),
    ("ingress rules ignored under policyTypes [Egress]",
     [policy("p", select=SELECT_A, ingress=[], types=["Egress"], egress=[{}])], set()),
    ("egress to a named port of the destination",
     [policy("p", select=SELECT_A, types=["Egress"], egress=[{"ports": [{"port": "serve-80-tcp"}]}])], set()),
    ("egress to a named port nobody has",
     [policy("p", select=SELECT_A, types=["Egress"], egress=[{"ports": [{"port": "nope"}]}])],
     pairs(XA, anyone)),
    ("egress ipBlock with except",
     [policy("p", select=SELECT_A, types=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "10.42.0.0/16",
                                                                  "except": [f"{ip_of('y', 'a')}/32"]}}]}])],
     pairs(XA, is_pod("y", "a"))),
    ("ingress ipBlock of namespace z's pods",
     [policy("p", select=SELECT_A, ingress=[{"from": [{"ipBlock": {"cidr": "10.42.2.0/24"}}]}])],
     pairs(in_ns("x", "y"), XA)),
    ("an IPv6 ipBlock matches nothing here",
     [policy("p", select=SELECT_A, ingress=[{"from": [{"ipBlock": {"cidr": "fd00::/8"}}]}])], pairs(anyone, XA)),
    ("policies of another namespace do not apply", [policy("deny", ns="y", ingress=[])], pairs(anyone, in_ns("y"))),
]


@pytest.mark.parametrize("policies, denied", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_truth_table(policies: list[Obj], denied: set[tuple[str, str]]) -> None:
    assert connectivity(policies) == denied


def test_udp_needs_its_own_port_rule() -> None:
    tcp_80 = [policy("p", select=SELECT_A, ingress=[{"ports": [{"port": 80}]}])]
    assert connectivity(tcp_80, proto="udp") == pairs(anyone, XA)
    udp_named = [policy("p", select=SELECT_A, ingress=[{"ports": [{"port": "serve-80-udp", "protocol": "UDP"}]}])]
    assert connectivity(udp_named, proto="udp") == set()
    assert connectivity(udp_named, proto="tcp") == pairs(anyone, XA)


def test_namespace_labels_drive_selection() -> None:
    pols = [policy("p", select=SELECT_A, ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}])]
    assert connectivity(pols) == pairs(anyone, XA)
    relabelled = {**NS_LABELS, "z": {**NS_LABELS["z"], "team": "a"}}
    assert connectivity(pols, namespaces=relabelled) == pairs(in_ns("x", "y"), XA)


def test_egress_named_ports_resolve_per_destination() -> None:
    web = pod("y", "web", ports=(("http", "tcp", 8080),), ip="10.42.1.20")
    other = pod("y", "other", ports=(("http", "tcp", 9090),), ip="10.42.1.21")
    src = pod("x", "a")
    compiled = netpol.compile_rules(
        policies=[policy("p", select=SELECT_A, types=["Egress"], egress=[{"ports": [{"port": "http"}]}])],
        pods=[web, other, src], namespaces=NS_LABELS, targets=[src])
    assert compiled["x/a"].egress == (Allow(ips=frozenset(web.ips), ports=(PortRange("tcp", 8080, 8080),)),
                                      Allow(ips=frozenset(other.ips), ports=(PortRange("tcp", 9090, 9090),)))


# ---------------------------------------------------------------------------------------------------- inputs

@pytest.mark.parametrize("pod_obj, expected", [
    ({"metadata": {"name": "p", "namespace": "ns", "labels": {"a": "b"}},
      "spec": {"nodeName": "n1", "containers": [{"ports": [{"name": "http", "containerPort": 80},
                                                            {"containerPort": 81}]}]},
      "status": {"podIP": "10.42.0.5", "podIPs": [{"ip": "10.42.0.5"}, {"ip": "fd00::5"}]}},
     PodInfo("ns", "p", {"a": "b"}, ("10.42.0.5",), "n1", (("http", "tcp", 80),))),
    ({"metadata": {"name": "p", "namespace": "ns"}, "spec": {}, "status": {"podIP": "10.42.0.5"}},
     PodInfo("ns", "p", {}, ("10.42.0.5",), "", ())),
    ({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"hostNetwork": True}, "status": {"podIP": "192.0.2.1"}},
     None),
    ({"metadata": {"name": "p", "namespace": "ns"}, "spec": {}, "status": {"phase": "Succeeded", "podIP": "10.42.0.5"}},
     None),
    ({"metadata": {"name": "p", "namespace": "ns"}, "spec": {}, "status": {}}, None),
    ({"metadata": {"name": "p", "namespace": "ns"}, "spec": {}, "status": {"podIP": "10.42.0.999"}}, None),
])
def test_pod_info(pod_obj: Obj, expected: PodInfo | None) -> None:
    assert netpol.pod_info(pod_obj) == expected


# ---------------------------------------------------------------------------------------------------- rendering

def test_rendered_chains_golden() -> None:
    rules = PodRules(
        ingress=(Allow(ips=frozenset({"10.42.0.7", "10.42.0.10"}), ports=(PortRange("tcp", 80, 80),
                                                                         PortRange("tcp", 8000, 8080),
                                                                         PortRange("udp", 53, 53))),
                 Allow(block=Block("10.0.0.0/8", ("10.1.0.0/16", "10.2.0.0/16"))),
                 Allow(ports=(PortRange("sctp"),))),
        egress=())
    frag = netpol.pod_fragment(pod("x", "a"), rules)
    (ing, ing_rules), (eg, eg_rules) = ((n, c.rules) for n, c in frag.chains.items())
    assert ing.startswith("np-in-") and ing.endswith("-x/a") and eg.startswith("np-out-")
    assert ing_rules == (
        "ip saddr { 10.42.0.7, 10.42.0.10 } meta l4proto tcp th dport { 80, 8000-8080 } return",
        "ip saddr { 10.42.0.7, 10.42.0.10 } meta l4proto udp th dport 53 return",
        "ip saddr 10.0.0.0/8 ip saddr != { 10.1.0.0/16, 10.2.0.0/16 } return",
        "meta l4proto sctp return",
        "drop")
    assert eg_rules == ("drop",)
    assert frag.elements == {("np-ingress", "10.42.0.2"): f"jump {ing}", ("np-egress", "10.42.0.2"): f"jump {eg}"}


def test_only_isolated_local_pods_get_fragments() -> None:
    remote = pod("x", "b", node="n2")
    frags = netpol.fragments(policies=[policy("deny", select=SELECT_A, ingress=[])],
                             pods=[pod("x", "a"), remote, pod("x", "c")], namespaces=NS_LABELS, node="n1")
    assert list(frags) == ["np:x/a"]
    frags = netpol.fragments(policies=[policy("deny", ingress=[])], pods=[pod("x", "a"), remote],
                             namespaces=NS_LABELS, node="n1")
    assert list(frags) == ["np:x/a"]          # x/b is enforced by n2's proxy


def test_base_fragment() -> None:
    base = netpol.base_fragment()
    chain = base.chains["netpol-forward"]
    assert chain.hook == "type filter hook forward priority 0; policy accept;"
    assert chain.rules == ("ct state established,related accept", "ip daddr vmap @np-ingress",
                           "ip saddr vmap @np-egress")


def test_peers_are_named_sets_shared_by_the_chains() -> None:
    pols = [policy("p", ingress=[{"from": [{"podSelector": POD_B}]}])]
    frags = netpol.fragments(policies=pols, pods=ALL, namespaces=NS_LABELS, node="n1")
    assert sorted(frags) == ["np:x/a", "np:x/b", "np:x/c", "npset:x/p/in0/0"]
    name = netpol.set_name("x/p/in0/0")
    assert frags["npset:x/p/in0/0"].elements == {(name, ip_of("x", "b")): ""}
    chains = [c.rules for f in frags.values() for c in f.chains.values()]
    assert chains == [(f"ip saddr @{name} return", "drop")] * 3           # one set for the three chains


def test_a_peer_selecting_no_one_keeps_its_rule_and_an_empty_set() -> None:
    pols = [policy("p", select=SELECT_A, ingress=[{"from": [{"podSelector": {"matchLabels": {"pod": "zz"}}}]}])]
    frags = netpol.fragments(policies=pols, pods=ALL, namespaces=NS_LABELS, node="n1")
    assert frags["npset:x/p/in0/0"].elements == {} and frags["npset:x/p/in0/0"].sets
    assert frags["np:x/a"].chains[next(iter(frags["np:x/a"].chains))].rules[0].startswith("ip saddr @np-")
