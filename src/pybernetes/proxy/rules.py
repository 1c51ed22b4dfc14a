"""Services + EndpointSlices → nftables rules (pure functions; upstream kube-proxy's nftables mode).

The table's skeleton (:func:`base_fragment`) dispatches by verdict maps, so a Service is a handful of map
elements plus its own chains (:func:`service_fragment`), and a change to one Service or its endpoints rewrites
only those:

- ``nat-prerouting`` / ``nat-output`` (priority -100: nftables 1.0.6 refuses the name ``dstnat`` on the output
  hook) jump to ``services``, which looks up ``ip daddr . meta l4proto . th dport`` in ``service-ips``
  (ClusterIPs, externalIPs, LoadBalancer ingress IPs) and, for any local destination address — every node
  address and, unlike upstream's nftables mode, 127.0.0.1 (``route_localnet``, as its iptables mode) —
  ``meta l4proto . th dport`` in ``service-nodeports``;
- a Service port's ``service-…`` chain (Cluster policy) or ``local-…`` chain (Local policy: this node's
  endpoints only) picks an endpoint with ``numgen random mod N vmap`` (a lone endpoint directly), after the
  ClientIP affinity sets;
  ``external-…`` handles NodePort/LoadBalancer/externalIP traffic (masquerade unless externalTrafficPolicy is
  Local; pod and host traffic short-circuit to the Cluster chain as upstream);
- an ``endpoint-…`` chain masquerades hairpin traffic (the endpoint reaching itself), records affinity, and
  DNATs (``meta l4proto tcp`` first: nft needs the protocol to DNAT to ``ip:port``);
- ports with no usable endpoint go to ``no-endpoint-services`` / ``no-endpoint-nodeports``, checked from the
  filter hooks on new connections: ``reject-chain`` (TCP reset, else ICMP port unreachable) when there is no
  endpoint at all, ``drop`` when a Local traffic policy has none on this node;
- ``mark-for-masquerade`` sets bit 0x4000, and ``nat-postrouting`` masquerades marked packets; it also
  masquerades pod traffic leaving the cluster (the CNI bridge runs with ``ipMasq: false`` so NetworkPolicy sees
  real pod addresses). ``cluster-cidrs`` holds the cluster's pod CIDRs (upstream's "local traffic detector"):
  ClusterIP traffic from outside them is masqueraded, so replies come back through this node.

Headless and ExternalName Services, and Services labelled ``service.kubernetes.io/service-proxy-name`` (meant
for another proxy), get no rules. Endpoints are the first address of each EndpointSlice endpoint; Ready ones, or
serving-and-terminating ones when no endpoint is Ready (upstream ``CategorizeEndpoints``, without topology
hints).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pybernetes.proxy.nft import Chain, Fragment, SetDecl

Obj = Mapping[str, Any]

MASQ_MARK = "0x00004000"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
DEFAULT_AFFINITY_TIMEOUT = 10800
NAME_MAX = 255                     # NFT_NAME_MAXLEN 256 with the terminating NUL

# maps and chains of the skeleton
SERVICE_IPS = "service-ips"
SERVICE_NODEPORTS = "service-nodeports"
NO_ENDPOINT_SERVICES = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"
FIREWALL_IPS = "firewall-ips"
CLUSTER_CIDRS = "cluster-cidrs"
MARK_MASQ = "mark-for-masquerade"
REJECT_CHAIN = "reject-chain"
ADDR_PORT = "ip daddr . meta l4proto . th dport"

# base chains: filtering sees addresses before DNAT (priority -110), DNAT at -100, SNAT at 100
HOOKS = {
    "filter-prerouting": "type filter hook prerouting priority -110; policy accept;",
    "filter-input": "type filter hook input priority -110; policy accept;",
    "filter-forward": "type filter hook forward priority -110; policy accept;",
    "filter-output": "type filter hook output priority -110; policy accept;",
    "nat-prerouting": "type nat hook prerouting priority -100; policy accept;",
    "nat-output": "type nat hook output priority -100; policy accept;",
    "nat-postrouting": "type nat hook postrouting priority 100; policy accept;",
}


# ---------------------------------------------------------------------------------------------------- names

@lru_cache(maxsize=65536)
def hashed(name: str, *, room: int = NAME_MAX - 16) -> str:
    """``HASH8-name``: unique even when cut to fit, and easy to tell apart from its neighbours (upstream's chain
    naming). ``room`` leaves space for the prefix."""
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:8]
    out = f"{digest}-{name}"
    return out if len(out) <= room else out[:room - 3] + "..."


# ---------------------------------------------------------------------------------------------------- services

@dataclass(frozen=True, slots=True)
class ServicePort:
    """One port of a Service as the proxy programs it (IPv4 only)."""

    namespace: str
    name: str
    port_name: str
    protocol: str                   # tcp | udp | sctp
    port: int
    node_port: int = 0
    cluster_ip: str = ""
    external_ips: tuple[str, ...] = ()
    lb_ips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()
    affinity_timeout: int = 0       # seconds of ClientIP affinity; 0: none
    external_local: bool = False    # externalTrafficPolicy: Local (and reachable from outside)
    internal_local: bool = False    # internalTrafficPolicy: Local
    health_check_node_port: int = 0

    @property
    def base(self) -> str:
        return hashed(f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name}")

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port_name}" if self.port_name else f"{self.namespace}/{self.name}"

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.lb_ips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Cluster endpoints serve ClusterIP traffic (internal policy Cluster) and short-circuited external
        traffic from pods and the host."""
        return not self.internal_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_local or (self.external_local and self.externally_accessible)


@lru_cache(maxsize=65536)
def _ipv4_cached(ip: str) -> bool:
    try:
        return str(ipaddress.IPv4Address(ip)) == ip
    except ValueError:
        return False


def is_ipv4(ip: Any) -> bool:
    """A canonical IPv4 address: anything else never reaches an nft rule (one bad token fails a transaction)."""
    return isinstance(ip, str) and _ipv4_cached(ip)


def _v4_cidr(cidr: str) -> str | None:
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None
    return str(net) if net.version == 4 else None


def service_ports(svc: Obj) -> list[ServicePort]:
    """The ports the proxy programs for a Service; none for headless, ExternalName and other proxies'
    Services."""
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    if PROXY_NAME_LABEL in (meta.get("labels") or {}):
        return []
    typ = spec.get("type") or "ClusterIP"
    if typ == "ExternalName":
        return []
    ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if is_ipv4(ip) and ip != "None"]
    if not ips:
        return []
    lb_ips: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()
    if typ == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
        lb_ips = tuple(i["ip"] for i in ingress if is_ipv4(i.get("ip")) and i.get("ipMode") in (None, "", "VIP"))
        ranges = tuple(c for r in spec.get("loadBalancerSourceRanges") or () if isinstance(r, str)
                       and (c := _v4_cidr(r)))
    external_ips = tuple(ip for ip in spec.get("externalIPs") or () if is_ipv4(ip))
    timeout = 0
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        timeout = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    out = []
    for p in spec.get("ports") or ():
        node_port = int(p.get("nodePort") or 0) if typ in ("NodePort", "LoadBalancer") else 0
        accessible = bool(node_port or lb_ips or external_ips)
        out.append(ServicePort(
            namespace=meta.get("namespace") or "default", name=meta.get("name") or "",
            port_name=p.get("name") or "", protocol=(p.get("protocol") or "TCP").lower(), port=int(p["port"]),
            node_port=node_port, cluster_ip=ips[0], external_ips=external_ips, lb_ips=lb_ips,
            source_ranges=ranges, affinity_timeout=timeout,
            external_local=accessible and spec.get("externalTrafficPolicy") == "Local",
            internal_local=spec.get("internalTrafficPolicy") == "Local",
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0)))
    return out


# ---------------------------------------------------------------------------------------------------- endpoints

@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node: str = ""

    @property
    def addr(self) -> str:
        return f"{self.ip}:{self.port}"


def endpoints_for(sp: ServicePort, slices: Iterable[Obj]) -> list[Endpoint]:
    """The Service port's endpoints across its IPv4 EndpointSlices, de-duplicated by ``ip:port`` (sorted, so
    the rules do not change with the order slices arrive in)."""
    seen: dict[str, Endpoint] = {}
    for sl in slices:
        if sl.get("addressType") != "IPv4":
            continue
        port = next((int(p["port"]) for p in sl.get("ports") or ()
                     if (p.get("name") or "") == sp.port_name and (p.get("protocol") or "TCP").lower() == sp.protocol
                     and p.get("port") is not None), None)
        if port is None:
            continue
        for ep in sl.get("endpoints") or ():
            addrs = ep.get("addresses") or ()
            if not addrs or not is_ipv4(addrs[0]):
                continue
            cond = ep.get("conditions") or {}
            ready = cond.get("ready") is not False
            e = Endpoint(ip=addrs[0], port=port, ready=ready,
                         serving=cond.get("serving") is not False if cond.get("serving") is not None else ready,
                         terminating=cond.get("terminating") is True, node=ep.get("nodeName") or "")
            if e.addr not in seen or (e.ready and not seen[e.addr].ready):
                seen[e.addr] = e
    return sorted(seen.values(), key=lambda e: (ipaddress.IPv4Address(e.ip), e.port))


@dataclass(frozen=True, slots=True)
class Categorized:
    cluster: tuple[Endpoint, ...]        # endpoints for Cluster traffic policy
    local: tuple[Endpoint, ...]          # this node's endpoints, for Local traffic policy
    reachable: tuple[Endpoint, ...]      # union: every endpoint this node may DNAT to
    has_any: bool                        # usable endpoints exist somewhere in the cluster


def categorize(eps: list[Endpoint], sp: ServicePort, node: str) -> Categorized:
    """Upstream ``CategorizeEndpoints``: Ready endpoints, else serving+terminating ones (separately for the
    Cluster and the Local set)."""
    cluster: tuple[Endpoint, ...] = ()
    has_any = False
    if sp.uses_cluster_endpoints:
        cluster = tuple(e for e in eps if e.ready) or tuple(e for e in eps if e.serving and e.terminating)
        has_any = bool(cluster)
    if not sp.uses_local_endpoints:
        return Categorized(cluster, (), cluster, has_any)
    has_any = has_any or any(e.ready or (e.serving and e.terminating) for e in eps)
    local = tuple(e for e in eps if e.node == node and e.ready) or \
        tuple(e for e in eps if e.node == node and e.serving and e.terminating)
    if not sp.uses_cluster_endpoints:
        return Categorized((), local, local, has_any)
    merged = {e.addr: e for e in cluster}
    merged.update((e.addr, e) for e in local)
    reachable = tuple(sorted(merged.values(), key=lambda e: (ipaddress.IPv4Address(e.ip), e.port)))
    return Categorized(cluster, local, reachable, has_any)


# ---------------------------------------------------------------------------------------------------- fragments

class _Builder:
    def __init__(self) -> None:
        self.chains: dict[str, Chain] = {}
        self.sets: dict[str, SetDecl] = {}
        self.elements: dict[tuple[str, str], str] = {}
        self._rules: dict[str, list[str]] = {}

    def rule(self, chain: str, rule: str) -> None:
        self._rules.setdefault(chain, []).append(rule)

    def chain(self, chain: str) -> None:
        self._rules.setdefault(chain, [])

    def fragment(self) -> Fragment:
        for name, rules in self._rules.items():
            self.chains[name] = Chain(tuple(rules))
        return Fragment(chains=self.chains, sets=self.sets, elements=self.elements)


def _ep_base(sp: ServicePort, ep: Endpoint) -> str:
    return hashed(f"{sp.namespace}/{sp.name}/{sp.protocol}/{sp.port_name}__{ep.ip}/{ep.port}")


def _lb_rules(b: _Builder, sp: ServicePort, chain: str, eps: tuple[Endpoint, ...]) -> None:
    """Affinity first (a client with a live entry keeps its endpoint), then the random pick."""
    if sp.affinity_timeout:
        for ep in eps:
            base = _ep_base(sp, ep)
            b.rule(chain, f"ip saddr @affinity-{base} goto endpoint-{base}")
    if len(eps) == 1:                  # what ``numgen random mod 1`` would pick, without an anonymous map per
        b.rule(chain, f"goto endpoint-{_ep_base(sp, eps[0])}")      # Service that every nft call lists
        return
    picks = ", ".join(f"{i} : goto endpoint-{_ep_base(sp, ep)}" for i, ep in enumerate(eps))
    b.rule(chain, f"numgen random mod {len(eps)} vmap {{ {picks} }}")


def add_service_port(b: _Builder, sp: ServicePort, eps: list[Endpoint], *, node: str) -> None:
    """Everything one Service port needs, given its endpoints."""
    cat = categorize(eps, sp, node)
    key = f"{sp.protocol} . {sp.port}"
    cluster_chain, local_chain = f"service-{sp.base}", f"local-{sp.base}"
    external_chain, firewall_chain = f"external-{sp.base}", f"firewall-{sp.base}"
    uses_cluster = bool(cat.cluster) and sp.uses_cluster_endpoints
    uses_local = bool(cat.local) and sp.uses_local_endpoints
    internal_chain = local_chain if sp.internal_local else cluster_chain
    has_internal = bool(cat.local) if sp.internal_local else cat.has_any
    external_policy_chain = local_chain if sp.external_local else cluster_chain
    has_external = bool(cat.local) if sp.external_local else cat.has_any
    uses_external = cat.has_any and sp.externally_accessible
    no_internal = "goto reject-chain" if not cat.has_any else "drop"
    no_external = "goto reject-chain" if not cat.has_any else "drop"

    # captures: ClusterIP, externalIPs, LoadBalancer IPs, NodePort
    if has_internal:
        b.elements[(SERVICE_IPS, f"{sp.cluster_ip} . {key}")] = f"goto {internal_chain}"
    else:
        b.elements[(NO_ENDPOINT_SERVICES, f"{sp.cluster_ip} . {key}")] = no_internal
    for ip in (*sp.external_ips, *sp.lb_ips):
        if cat.has_any:
            b.elements[(SERVICE_IPS, f"{ip} . {key}")] = f"goto {external_chain}"
        if not has_external:
            b.elements[(NO_ENDPOINT_SERVICES, f"{ip} . {key}")] = no_external
    if sp.lb_ips and sp.source_ranges:
        sources = list(sp.source_ranges)
        b.rule(firewall_chain, f"ip saddr != {{ {', '.join(sources)} }} drop")
        for ip in sp.lb_ips:
            b.elements[(FIREWALL_IPS, f"{ip} . {key}")] = f"goto {firewall_chain}"
    if sp.node_port:
        np_key = f"{sp.protocol} . {sp.node_port}"
        if cat.has_any:
            b.elements[(SERVICE_NODEPORTS, np_key)] = f"goto {external_chain}"
        if not has_external:
            b.elements[(NO_ENDPOINT_NODEPORTS, np_key)] = no_external

    # internal traffic from outside the cluster's pod CIDRs is masqueraded (replies must come back here)
    if has_internal:
        b.rule(internal_chain, f"ip daddr {sp.cluster_ip} {sp.protocol} dport {sp.port} "
                               f"ip saddr != @{CLUSTER_CIDRS} jump {MARK_MASQ}")
    if uses_external:
        if not sp.external_local:
            b.rule(external_chain, f"jump {MARK_MASQ}")
        else:
            b.rule(external_chain, f"ip saddr @{CLUSTER_CIDRS} goto {cluster_chain}")      # pods short-circuit
            b.rule(external_chain, f"fib saddr type local jump {MARK_MASQ}")                # the host: masquerade
            b.rule(external_chain, f"fib saddr type local goto {cluster_chain}")
        if has_external:
            b.rule(external_chain, f"goto {external_policy_chain}")

    if sp.affinity_timeout:
        for ep in cat.reachable:
            b.sets[f"affinity-{_ep_base(sp, ep)}"] = SetDecl(
                "set", f"type ipv4_addr; flags dynamic,timeout; timeout {sp.affinity_timeout}s;", dynamic=True)
    if uses_cluster:
        _lb_rules(b, sp, cluster_chain, cat.cluster)
    if uses_local:
        _lb_rules(b, sp, local_chain, cat.local)
    for ep in cat.reachable:
        chain = f"endpoint-{_ep_base(sp, ep)}"
        b.rule(chain, f"ip saddr {ep.ip} jump {MARK_MASQ}")                                  # hairpin
        if sp.affinity_timeout:
            b.rule(chain, f"update @affinity-{_ep_base(sp, ep)} {{ ip saddr }}")
        b.rule(chain, f"meta l4proto {sp.protocol} dnat to {ep.ip}:{ep.port}")


def service_fragment(svc: Obj, slices: Iterable[Obj], *, node: str) -> Fragment:
    """All of one Service's rules (empty for Services the proxy ignores)."""
    ports = service_ports(svc)
    if not ports:
        return Fragment()
    slices = list(slices)
    b = _Builder()
    for sp in ports:
        add_service_port(b, sp, endpoints_for(sp, slices), node=node)
    return b.fragment()


def base_fragment(*, cluster_cidrs: Iterable[str] = ()) -> Fragment:
    """The table's skeleton: base chains, dispatch maps, masquerading, rejection; ``cluster_cidrs`` are the
    cluster's pod CIDRs (IPv4)."""
    b = _Builder()
    verdict_map = "type ipv4_addr . inet_proto . inet_service : verdict;"
    for name, spec in ((SERVICE_IPS, verdict_map), (NO_ENDPOINT_SERVICES, verdict_map), (FIREWALL_IPS, verdict_map),
                       (SERVICE_NODEPORTS, "type inet_proto . inet_service : verdict;"),
                       (NO_ENDPOINT_NODEPORTS, "type inet_proto . inet_service : verdict;")):
        b.sets[name] = SetDecl("map", spec)
    b.sets[CLUSTER_CIDRS] = SetDecl("set", "type ipv4_addr; flags interval;")
    for cidr in merge_cidrs(cluster_cidrs):
        b.elements[(CLUSTER_CIDRS, cidr)] = ""
    b.rule("filter-prerouting", "ct state new jump firewall-check")
    b.rule("filter-input", "ct state new jump endpoints-check")
    # route_localnet lets 127.0.0.1 NodePorts work; never let it expose loopback services to the network
    b.rule("filter-input", "iifname != \"lo\" ip daddr 127.0.0.0/8 ct state != { established, related } "
                          "ct status & dnat == 0 drop")
    b.rule("filter-forward", "ct state new jump endpoints-check")
    b.rule("filter-output", "ct state new jump endpoints-check")
    b.rule("filter-output", "ct state new jump firewall-check")
    b.rule("nat-prerouting", "jump services")
    b.rule("nat-output", "jump services")
    b.rule("nat-postrouting", "jump masquerading")
    b.rule("nat-postrouting", f"ip saddr @{CLUSTER_CIDRS} ip daddr != @{CLUSTER_CIDRS} masquerade")
    b.rule("firewall-check", f"{ADDR_PORT} vmap @{FIREWALL_IPS}")
    b.rule("endpoints-check", f"{ADDR_PORT} vmap @{NO_ENDPOINT_SERVICES}")
    b.rule("endpoints-check", f"fib daddr type local meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}")
    b.rule("services", f"{ADDR_PORT} vmap @{SERVICE_IPS}")
    b.rule("services", f"fib daddr type local meta l4proto . th dport vmap @{SERVICE_NODEPORTS}")
    b.rule(MARK_MASQ, f"meta mark set meta mark or {MASQ_MARK}")
    b.rule("masquerading", f"meta mark & {MASQ_MARK} == 0 return")
    b.rule("masquerading", f"meta mark set meta mark xor {MASQ_MARK}")
    b.rule("masquerading", "masquerade fully-random")
    b.rule(REJECT_CHAIN, "meta l4proto tcp reject with tcp reset")
    b.rule(REJECT_CHAIN, "reject")
    frag = b.fragment()
    chains = {name: Chain(frag.chains[name].rules, HOOKS[name]) if name in HOOKS else frag.chains[name]
              for name in frag.chains}
    return Fragment(chains=chains, sets=frag.sets, elements=frag.elements)


def merge_cidrs(cidrs: Iterable[str]) -> list[str]:
    """IPv4 CIDRs collapsed (an interval set refuses overlapping elements), sorted."""
    nets = []
    for c in cidrs:
        try:
            net = ipaddress.ip_network(c.strip(), strict=False)
        except ValueError:
            continue
        if net.version == 4:
            nets.append(net)
    return [str(n) for n in ipaddress.collapse_addresses(nets)]
