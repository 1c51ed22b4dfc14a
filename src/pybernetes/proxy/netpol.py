"""NetworkPolicy enforcement: (policies, pods, namespaces) → per-pod nftables chains (pure functions).

Semantics (networking.k8s.io/v1, as upstream's e2e ``netpol`` truth tables check them):

- a pod is isolated for ingress (egress) when at least one policy in its namespace selects it and lists
  ``Ingress`` (``Egress``) in ``policyTypes`` — absent types mean Ingress, plus Egress when there are egress
  rules; a pod no policy selects is unrestricted;
- an isolated pod accepts exactly what the union of its policies' rules allows; a rule allows traffic matching
  any of its peers (``from``/``to``; none listed = every source/destination) on any of its ports (none = every
  port and protocol);
- a peer is ``podSelector`` (pods of the policy's namespace), ``namespaceSelector`` (every pod of the matching
  namespaces), both (matching pods of matching namespaces), or ``ipBlock`` (a CIDR minus its ``except`` CIDRs);
- a port is a protocol (default TCP) with a number, a number range (``endPort``), a name, or nothing (all ports).
  A named port is resolved per pod: on the *target* pod's containers for ingress, on each *destination* pod's
  containers for egress (only pods can have named ports, so a named egress port reaches only pods);
- traffic between a pod and its own node is not subject to policy (it takes the host's input/output paths,
  which these rules never see); replies of allowed connections are allowed (``ct state established,related``).

Rules (:func:`pod_fragment`): the ``netpol-forward`` base chain (filter, forward hook, priority 0: after the
Service DNAT, so policies see endpoint addresses; ``br_netfilter`` shows it bridged pod-to-pod traffic too)
accepts established/related packets, then jumps through ``np-ingress`` (destination pod IP → its ingress
chain) and ``np-egress`` (source pod IP → its egress chain). An isolated pod's chain ``return`` s on each allowed
match and drops everything else. Only pods on this node get chains: the destination's node enforces ingress
and the source's node egress, so traffic between nodes is checked once each way. The pods a peer selects are a
named set per (policy, rule, peer) shared by every chain using it (:func:`peer_set_fragments`), so pods coming,
going or being relabelled change set elements in place; chains change only with the policies.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pybernetes.api.selectors import LabelSelector, label_selector_from_dict
from pybernetes.proxy.nft import Chain, Fragment, SetDecl
from pybernetes.proxy.rules import hashed, is_ipv4

Obj = Mapping[str, Any]
NP_INGRESS = "np-ingress"
NP_EGRESS = "np-egress"
FORWARD_HOOK = "type filter hook forward priority 0; policy accept;"
PROTOCOLS = ("tcp", "udp", "sctp")


# ---------------------------------------------------------------------------------------------------- inputs

@dataclass(frozen=True, slots=True)
class PodInfo:
    """What policy enforcement needs of a pod; equal infos mean no rule can change."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    ips: tuple[str, ...]
    node: str
    ports: tuple[tuple[str, str, int], ...]        # (name, protocol, containerPort) of named container ports

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def named_port(self, name: str, protocol: str) -> int | None:
        for n, proto, number in self.ports:
            if n == name and proto == protocol:
                return number
        return None


def pod_info(pod: Obj) -> PodInfo | None:
    """The pod as policy sees it, or ``None`` when it cannot take part: host-network pods (their address is the
    node's), finished pods (their IP may already be someone else's) and pods without an IPv4 address."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    if spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    ips = tuple(p["ip"] for p in status.get("podIPs") or () if isinstance(p, dict) and is_ipv4(p.get("ip")))
    if not ips and is_ipv4(status.get("podIP")):
        ips = (status["podIP"],)
    if not ips:
        return None
    ports = tuple((p["name"], (p.get("protocol") or "TCP").lower(), int(p["containerPort"]))
                  for c in spec.get("containers") or () for p in c.get("ports") or ()
                  if p.get("name") and p.get("containerPort"))
    return PodInfo(namespace=meta.get("namespace") or "default", name=meta.get("name") or "",
                   labels=dict(meta.get("labels") or {}), ips=ips, node=spec.get("nodeName") or "", ports=ports)


# ---------------------------------------------------------------------------------------------------- compiled form

@dataclass(frozen=True, slots=True)
class Block:
    cidr: str
    excepts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PortRange:
    protocol: str                    # tcp | udp | sctp
    first: int | None = None         # None: every port of the protocol
    last: int | None = None


@dataclass(frozen=True, slots=True)
class Allow:
    """Traffic an isolated pod accepts: from/to ``ips`` (pods) or ``block``, or anyone when both are ``None``;
    on ``ports``, or any port and protocol when ``None``."""

    ips: frozenset[str] | None = None
    block: Block | None = None
    ports: tuple[PortRange, ...] | None = None
    source: str = field(default="", compare=False)   # policy/rule/peer the ips come from: their named set


@dataclass(frozen=True, slots=True)
class PodRules:
    """``None``: not isolated in that direction; a tuple: only what its Allows match."""

    ingress: tuple[Allow, ...] | None = None
    egress: tuple[Allow, ...] | None = None


def policy_types(spec: Obj) -> tuple[bool, bool]:
    types = spec.get("policyTypes")
    if not types:
        return True, bool(spec.get("egress"))
    return "Ingress" in types, "Egress" in types


def _selector(d: Any) -> LabelSelector | None:
    try:
        return label_selector_from_dict(d)
    except ValueError:
        return None


class _Peers:
    """Pods selected by peers, computed once per (policy namespace, peer) for every target pod."""

    def __init__(self, pods: Sequence[PodInfo], namespaces: Mapping[str, Mapping[str, str]]) -> None:
        self.pods = pods
        self.namespaces = namespaces
        self.by_ns: dict[str, list[PodInfo]] = {}
        for p in pods:
            self.by_ns.setdefault(p.namespace, []).append(p)

    def select(self, peer: Obj, policy_ns: str) -> list[PodInfo]:
        pod_sel = _selector(peer["podSelector"]) if peer.get("podSelector") is not None else None
        ns_sel = _selector(peer["namespaceSelector"]) if peer.get("namespaceSelector") is not None else None
        if "podSelector" in peer and peer["podSelector"] is not None and pod_sel is None:
            return []
        if "namespaceSelector" in peer and peer["namespaceSelector"] is not None and ns_sel is None:
            return []
        if ns_sel is None:
            candidates = self.by_ns.get(policy_ns, [])
        else:
            candidates = [p for ns, labels in self.namespaces.items() if ns_sel.matches(labels)
                          for p in self.by_ns.get(ns, ())]
        if pod_sel is None:
            return list(candidates)
        return [p for p in candidates if pod_sel.matches(p.labels)]


def _block(ip_block: Obj) -> Block | None:
    try:
        net = ipaddress.ip_network(ip_block.get("cidr") or "", strict=False)
    except ValueError:
        return None
    if net.version != 4:
        return None
    excepts = []
    for e in ip_block.get("except") or ():
        try:
            ex = ipaddress.ip_network(e, strict=False)
        except ValueError:
            continue
        if ex.version == 4:
            excepts.append(str(ex))
    return Block(str(net), tuple(sorted(excepts)))


def _in_block(ip: str, block: Block) -> bool:
    addr = ipaddress.IPv4Address(ip)
    if addr not in ipaddress.ip_network(block.cidr):
        return False
    return not any(addr in ipaddress.ip_network(e) for e in block.excepts)


def _numeric_port(port: Obj) -> PortRange | None:
    """A port entry without a name; ``None`` for a named one."""
    proto = (port.get("protocol") or "TCP").lower()
    number = port.get("port")
    if number is None:
        return PortRange(proto)
    if isinstance(number, str) and not number.isdigit():
        return None
    first = int(number)
    last = int(port.get("endPort") or first)
    return PortRange(proto, first, max(first, last))


def _port_key(p: PortRange) -> tuple[str, int, int]:
    return (p.protocol, p.first or 0, p.last or 0)


class _Compiler:
    """One compilation: peer selections are computed once per (policy, rule, peer) and shared by every target
    pod (only named ingress ports depend on the target)."""

    def __init__(self, pods: Sequence[PodInfo], namespaces: Mapping[str, Mapping[str, str]]) -> None:
        self.peers = _Peers(pods, namespaces)
        self._selected: dict[str, list[PodInfo]] = {}
        self._egress: dict[str, list[Allow]] = {}

    def selected(self, source: str, peer: Obj, policy_ns: str) -> list[PodInfo]:
        got = self._selected.get(source)
        if got is None:
            got = self._selected[source] = self.peers.select(peer, policy_ns)
        return got

    def ingress(self, rule: Obj, target: PodInfo, policy_ns: str, source: str) -> list[Allow]:
        ports: list[PortRange] | None = None
        if rule.get("ports"):
            ports = []
            for port in rule["ports"]:
                numeric = _numeric_port(port)
                if numeric is not None:
                    ports.append(numeric)
                    continue
                proto = (port.get("protocol") or "TCP").lower()
                resolved = target.named_port(str(port["port"]), proto)
                if resolved is not None:
                    ports.append(PortRange(proto, resolved, resolved))
            if not ports:
                return []                                 # only named ports the target does not have
        port_tuple = tuple(sorted(set(ports), key=_port_key)) if ports is not None else None
        if not rule.get("from"):
            return [Allow(ports=port_tuple)]
        out: list[Allow] = []
        for j, peer in enumerate(rule["from"]):
            if peer.get("ipBlock") is not None:
                block = _block(peer["ipBlock"])
                if block is not None:
                    out.append(Allow(block=block, ports=port_tuple))
                continue
            src = f"{source}/{j}"
            ips = frozenset(ip for p in self.selected(src, peer, policy_ns) for ip in p.ips)
            out.append(Allow(ips=ips, ports=port_tuple, source=src))
        return out

    def egress(self, rule: Obj, policy_ns: str, source: str) -> list[Allow]:
        cached = self._egress.get(source)
        if cached is None:
            cached = self._egress[source] = self._egress_rule(rule, policy_ns, source)
        return cached

    def _egress_rule(self, rule: Obj, policy_ns: str, source: str) -> list[Allow]:
        numeric: list[PortRange] = []
        named: list[tuple[str, str]] = []
        for port in rule.get("ports") or ():
            p = _numeric_port(port)
            if p is not None:
                numeric.append(p)
            else:
                named.append((str(port["port"]), (port.get("protocol") or "TCP").lower()))
        has_ports = bool(rule.get("ports"))
        port_tuple = tuple(sorted(set(numeric), key=_port_key)) if has_ports else None
        by_address = not has_ports or bool(numeric)
        # each alternative destination: (its label, the pods it has for named ports, the Allow by address)
        targets: list[tuple[str, list[PodInfo], Allow | None]] = []
        if not rule.get("to"):
            targets.append((f"{source}/*", list(self.peers.pods), Allow(ports=port_tuple) if by_address else None))
        for j, peer in enumerate(rule.get("to") or ()):
            src = f"{source}/{j}"
            if peer.get("ipBlock") is not None:
                block = _block(peer["ipBlock"])
                if block is None:
                    continue
                in_block = [p for p in self.peers.pods if any(_in_block(ip, block) for ip in p.ips)] if named else []
                targets.append((src, in_block, Allow(block=block, ports=port_tuple) if by_address else None))
                continue
            selected = self.selected(src, peer, policy_ns)
            ips = frozenset(ip for p in selected for ip in p.ips)
            targets.append((src, selected, Allow(ips=ips, ports=port_tuple, source=src) if by_address else None))
        out: list[Allow] = []
        for src, pods, allow in targets:
            if allow is not None:
                out.append(allow)
            if not named:
                continue
            by_port: dict[PortRange, set[str]] = {}
            for pod in pods:
                for name, proto in named:
                    number = pod.named_port(name, proto)
                    if number is not None:
                        by_port.setdefault(PortRange(proto, number, number), set()).update(pod.ips)
            for pr, members in sorted(by_port.items(), key=lambda kv: _port_key(kv[0])):
                out.append(Allow(ips=frozenset(members), ports=(pr,), source=f"{src}/{pr.protocol}{pr.first}"))
        return out


def compile_rules(*, policies: Iterable[Obj], pods: Iterable[PodInfo], namespaces: Mapping[str, Mapping[str, str]],
                  targets: Iterable[PodInfo]) -> dict[str, PodRules]:
    """Each target pod's rules (by ``ns/name``); targets no policy isolates are left out."""
    compiler = _Compiler(list(pods), namespaces)
    by_ns: dict[str, list[tuple[Obj, LabelSelector | None]]] = {}
    for pol in policies:
        meta = pol.get("metadata") or {}
        spec = pol.get("spec") or {}
        by_ns.setdefault(meta.get("namespace") or "default", []).append((pol, _selector(spec.get("podSelector", {}))))
    out: dict[str, PodRules] = {}
    for target in targets:
        ingress: list[Allow] | None = None
        egress: list[Allow] | None = None
        for pol, sel in by_ns.get(target.namespace, ()):
            if sel is None or not sel.matches(target.labels):
                continue
            spec = pol.get("spec") or {}
            is_in, is_out = policy_types(spec)
            name = (pol.get("metadata") or {}).get("name") or ""
            if is_in:
                ingress = ingress if ingress is not None else []
                for i, rule in enumerate(spec.get("ingress") or ()):
                    ingress.extend(compiler.ingress(rule or {}, target, target.namespace,
                                                    f"{target.namespace}/{name}/in{i}"))
            if is_out:
                egress = egress if egress is not None else []
                for i, rule in enumerate(spec.get("egress") or ()):
                    egress.extend(compiler.egress(rule or {}, target.namespace, f"{target.namespace}/{name}/out{i}"))
        if ingress is not None or egress is not None:
            out[target.key] = PodRules(ingress=_dedup(ingress), egress=_dedup(egress))
    return out


def _dedup(allows: list[Allow] | None) -> tuple[Allow, ...] | None:
    if allows is None:
        return None
    seen: dict[Allow, None] = {}
    for a in allows:
        seen.setdefault(a, None)
    return tuple(seen)


# ---------------------------------------------------------------------------------------------------- rendering

def set_name(source: str) -> str:
    return f"np-{hashed(source)}"


def _ip_list(ips: Iterable[str]) -> str:
    ordered = sorted(ips, key=socket.inet_aton)
    return ordered[0] if len(ordered) == 1 else "{ " + ", ".join(ordered) + " }"


def _peer_match(allow: Allow, field: str) -> str:
    if allow.ips is not None:
        if allow.source:
            return f"ip {field} @{set_name(allow.source)} "
        return f"ip {field} {_ip_list(allow.ips)} "
    if allow.block is not None:
        m = f"ip {field} {allow.block.cidr} "
        if allow.block.excepts:
            m += f"ip {field} != {{ {', '.join(allow.block.excepts)} }} "
        return m
    return ""


def _port_matches(ports: tuple[PortRange, ...]) -> list[str]:
    by_proto: dict[str, list[PortRange]] = {}
    for p in ports:
        by_proto.setdefault(p.protocol, []).append(p)
    out = []
    for proto, prs in by_proto.items():
        if any(p.first is None for p in prs):
            out.append(f"meta l4proto {proto} ")
            continue
        items = sorted({f"{p.first}" if p.first == p.last else f"{p.first}-{p.last}" for p in prs},
                       key=lambda s: int(s.split("-")[0]))
        values = items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"
        out.append(f"meta l4proto {proto} th dport {values} ")
    return out


def allow_rules(allows: Iterable[Allow], field: str) -> list[str]:
    """One ``… return`` rule per (allow, protocol), then ``drop``."""
    out = []
    for allow in allows:
        if allow.ips is not None and not allow.ips and not allow.source:
            continue                                      # no one (nft has no empty anonymous set)
        peer = _peer_match(allow, field)
        if allow.ports is None:
            out.append(f"{peer}return")
        else:
            out.extend(f"{peer}{ports}return" for ports in _port_matches(allow.ports))
    out.append("drop")
    return out


def pod_fragment(pod: PodInfo, rules: PodRules) -> Fragment:
    """The chains of one isolated pod and its entries in the dispatch maps (the peer sets it names are
    :func:`peer_set_fragments`')."""
    base = hashed(pod.key)
    chains: dict[str, Chain] = {}
    elements: dict[tuple[str, str], str] = {}
    if rules.ingress is not None:
        chains[f"np-in-{base}"] = Chain(tuple(allow_rules(rules.ingress, "saddr")))
        for ip in pod.ips:
            elements[(NP_INGRESS, ip)] = f"jump np-in-{base}"
    if rules.egress is not None:
        chains[f"np-out-{base}"] = Chain(tuple(allow_rules(rules.egress, "daddr")))
        for ip in pod.ips:
            elements[(NP_EGRESS, ip)] = f"jump np-out-{base}"
    return Fragment(chains=chains, elements=elements)


PEER_SET = SetDecl("set", "type ipv4_addr;")


def peer_set_fragments(compiled: Mapping[str, PodRules]) -> dict[str, Fragment]:
    """One named set per peer selection (policy, rule, peer; per resolved port for named egress ports), shared
    by every pod chain that uses it: pods coming and going change set elements in place, not chains."""
    sets: dict[str, frozenset[str]] = {}
    for r in compiled.values():
        for allow in (*(r.ingress or ()), *(r.egress or ())):
            if allow.source and allow.ips is not None:
                sets.setdefault(allow.source, allow.ips)
    return {f"npset:{source}": Fragment(sets={set_name(source): PEER_SET},
                                        elements={(set_name(source), ip): "" for ip in ips})
            for source, ips in sets.items()}


def base_fragment() -> Fragment:
    """The forward-hook chain and the two dispatch maps."""
    return Fragment(
        chains={"netpol-forward": Chain(("ct state established,related accept",
                                         f"ip daddr vmap @{NP_INGRESS}", f"ip saddr vmap @{NP_EGRESS}"),
                                        FORWARD_HOOK)},
        sets={NP_INGRESS: SetDecl("map", "type ipv4_addr : verdict;"),
              NP_EGRESS: SetDecl("map", "type ipv4_addr : verdict;")})


def fragments(*, policies: Iterable[Obj], pods: Iterable[PodInfo], namespaces: Mapping[str, Mapping[str, str]],
              node: str) -> dict[str, Fragment]:
    """Every isolated pod of this node → its fragment (keyed ``np:ns/name``), and the peer sets they use
    (``npset:…``)."""
    all_pods = list(pods)
    local = [p for p in all_pods if p.node == node]
    compiled = compile_rules(policies=policies, pods=all_pods, namespaces=namespaces, targets=local)
    by_key = {p.key: p for p in local}
    out = {f"np:{key}": pod_fragment(by_key[key], r) for key, r in compiled.items()}
    out.update(peer_set_fragments(compiled))
    return out
