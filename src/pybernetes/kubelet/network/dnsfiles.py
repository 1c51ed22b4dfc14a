"""A pod's ``/etc/hosts``, ``/etc/hostname`` and ``/etc/resolv.conf`` (pure functions).

Upstream sources of the rules: ``pkg/kubelet/kubelet_pods.go`` (``managedHostsFileContent``,
``nodeHostsFileContent``), ``pkg/util/pod`` + ``GeneratePodHostNameAndDomain`` for the hostname, and
``pkg/kubelet/network/dns/dns.go`` for resolv.conf:

- ``ClusterFirst`` points at cluster DNS with the search path ``<ns>.svc.<domain> svc.<domain> <domain>`` followed
  by the node's own search domains, and ``options ndots:5``; a host-network pod with ``ClusterFirst`` gets the
  node's resolv.conf instead (use ``ClusterFirstWithHostNet`` to keep cluster DNS); without a cluster DNS address
  the kubelet falls back to ``Default`` (the node's file);
- ``None`` starts empty and takes everything from ``dnsConfig``; ``dnsConfig`` is appended to any policy's result,
  nameservers and searches de-duplicated, options merged by name (the later value wins);
- upstream's limits apply: 3 nameservers, 32 search domains of 2,048 characters in total; what does not fit is
  dropped and reported (the kubelet's ``DNSConfigForming`` event).

Files are rendered as containerd writes them from the CRI ``DNSConfig``: ``search``, then ``nameserver`` lines,
then ``options``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
CLUSTER_DNS = ("10.43.0.10",)
CLUSTER_DOMAIN = "cluster.local"
MAX_NAMESERVERS = 3
MAX_SEARCH_DOMAINS = 32
MAX_SEARCH_CHARS = 2048
MAX_SEARCH_DOMAIN_CHARS = 253
MAX_HOSTNAME = 63
HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
HOSTS_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"
HOSTS_BOILERPLATE = ("127.0.0.1\tlocalhost\n"
                     "::1\tlocalhost ip6-localhost ip6-loopback\n"
                     "fe00::0\tip6-localnet\n"
                     "fe00::0\tip6-mcastprefix\n"
                     "fe00::1\tip6-allnodes\n"
                     "fe00::2\tip6-allrouters\n")


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DNSResult:
    """The resolv.conf for a pod plus the limits it ran into (each one message for a ``DNSConfigForming``
    warning event)."""

    conf: ResolvConf
    warnings: tuple[str, ...] = field(default=())

    def render(self) -> str:
        return render_resolv_conf(self.conf)


# ---------------------------------------------------------------------------------------------------- hostname

def pod_hostname_and_domain(pod: Obj, *, cluster_domain: str = CLUSTER_DOMAIN) -> tuple[str, str]:
    """``spec.hostname`` or the pod's name cut to 63 characters (without a trailing ``-`` or ``.``), and the
    domain ``<subdomain>.<ns>.svc.<cluster domain>`` when ``spec.subdomain`` is set, else ``""``."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    hostname = spec.get("hostname") or meta.get("name", "")
    if len(hostname) > MAX_HOSTNAME:
        hostname = hostname[:MAX_HOSTNAME].rstrip("-.")
    sub = spec.get("subdomain") or ""
    domain = f"{sub}.{meta.get('namespace', '')}.svc.{cluster_domain}" if sub else ""
    return hostname, domain


def pod_hostname(pod: Obj, *, cluster_domain: str = CLUSTER_DOMAIN, node_hostname: str = "") -> str:
    """The UTS hostname of the pod's containers: the node's for host-network pods, the FQDN when
    ``setHostnameAsFQDN`` is set and a domain exists, else the short hostname."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork") and node_hostname:
        return node_hostname
    hostname, domain = pod_hostname_and_domain(pod, cluster_domain=cluster_domain)
    if spec.get("setHostnameAsFQDN") and domain:
        return f"{hostname}.{domain}"
    return hostname


def hostname_file(pod: Obj, *, cluster_domain: str = CLUSTER_DOMAIN, node_hostname: str = "") -> str:
    return pod_hostname(pod, cluster_domain=cluster_domain, node_hostname=node_hostname) + "\n"


# ---------------------------------------------------------------------------------------------------- /etc/hosts

def _host_aliases(pod: Obj) -> str:
    aliases = (pod.get("spec") or {}).get("hostAliases") or ()
    if not aliases:
        return ""
    lines = ["\n# Entries added by HostAliases.\n"]
    for a in aliases:
        lines.append(f"{a.get('ip', '')}\t{chr(9).join(a.get('hostnames') or ())}\n")
    return "".join(lines)


def hosts_file(pod: Obj, *, pod_ips: Sequence[str], cluster_domain: str = CLUSTER_DOMAIN,
               node_hosts: str | None = None) -> str:
    """The pod's ``/etc/hosts``. A host-network pod gets the node's file (``node_hosts``) under a header saying
    so; any other pod the managed file: localhost lines, each pod IP with its FQDN (when it has a subdomain) and
    hostname, then the ``hostAliases``."""
    if (pod.get("spec") or {}).get("hostNetwork") and node_hosts is not None:
        body = node_hosts if not node_hosts or node_hosts.endswith("\n") else node_hosts + "\n"
        return HOSTS_HEADER_HOST_NETWORK + body + _host_aliases(pod)
    hostname, domain = pod_hostname_and_domain(pod, cluster_domain=cluster_domain)
    lines = [HOSTS_HEADER, HOSTS_BOILERPLATE]
    for ip in pod_ips:
        lines.append(f"{ip}\t{hostname}.{domain}\t{hostname}\n" if domain else f"{ip}\t{hostname}\n")
    return "".join(lines) + _host_aliases(pod)


# ---------------------------------------------------------------------------------------------------- resolv.conf

def parse_resolv_conf(text: str) -> ResolvConf:
    """The node's resolv.conf as upstream's ``parseResolvConf`` reads it: every ``nameserver``; the last
    ``search`` line (domains without a trailing dot; a lone ``.`` dropped); the options of every ``options``
    line. Comments (``#``/``;``) and other keywords are ignored."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        fields = line.split()
        if not fields:
            continue
        key, rest = fields[0], fields[1:]
        if key == "nameserver" and rest:
            nameservers.append(rest[0])
        elif key == "search":
            searches = [s.rstrip(".") for s in rest if s != "."]
        elif key == "options":
            options.extend(rest)
    return ResolvConf(tuple(nameservers), tuple(searches), tuple(options))


def _dedupe(items: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i in items:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def merge_options(existing: Sequence[str], extra: Sequence[Obj]) -> list[str]:
    """Options merged by name (``ndots:5`` has the name ``ndots``): ``dnsConfig.options`` override; the order is
    first appearance."""
    merged: dict[str, str] = {}
    for text in existing:
        name, _, value = text.partition(":")
        merged[name] = value
    for op in extra:
        name = op.get("name") or ""
        if name:
            merged[name] = str(op.get("value") or "")
    return [f"{k}:{v}" if v else k for k, v in merged.items()]


def _fit(conf: ResolvConf) -> tuple[ResolvConf, list[str]]:
    warnings: list[str] = []
    nameservers = list(conf.nameservers)
    if len(nameservers) > MAX_NAMESERVERS:
        nameservers = nameservers[:MAX_NAMESERVERS]
        warnings.append("Nameserver limits were exceeded, some nameservers have been omitted, the applied "
                        f"nameserver line is: {' '.join(nameservers)}")
    searches = list(conf.searches)
    cut = len(searches) > MAX_SEARCH_DOMAINS
    searches = searches[:MAX_SEARCH_DOMAINS]
    fitting = [s for s in searches if len(s) <= MAX_SEARCH_DOMAIN_CHARS]    # glibc aborts on longer ones
    cut = cut or len(fitting) != len(searches)
    searches = fitting
    while searches and len(" ".join(searches)) > MAX_SEARCH_CHARS:
        searches.pop()
        cut = True
    if cut:
        warnings.append("Search Line limits were exceeded, some search paths have been omitted, the applied "
                        f"search line is: {' '.join(searches)}")
    return ResolvConf(tuple(nameservers), tuple(searches), conf.options), warnings


def pod_dns(pod: Obj, *, host: ResolvConf, cluster_dns: Sequence[str] = CLUSTER_DNS,
            cluster_domain: str = CLUSTER_DOMAIN) -> DNSResult:
    """The pod's DNS configuration for its ``dnsPolicy`` (default ``ClusterFirst``) and ``dnsConfig``."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    warnings: list[str] = []
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and not cluster_dns:
        warnings.append("pod: kubelet does not have ClusterDNS IP configured and cannot create Pod using "
                        f'"{policy}" policy. Falling back to "Default" policy.')
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        ns = meta.get("namespace", "")
        cluster_search = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
        conf = ResolvConf(tuple(cluster_dns), tuple(_dedupe([*cluster_search, *host.searches])), ("ndots:5",))
    elif policy == "None":
        conf = ResolvConf()
    else:
        conf = host
    extra = spec.get("dnsConfig") or {}
    if extra:
        conf = ResolvConf(tuple(_dedupe([*conf.nameservers, *(extra.get("nameservers") or ())])),
                          tuple(_dedupe([*conf.searches, *(extra.get("searches") or ())])),
                          tuple(merge_options(conf.options, extra.get("options") or ())))
    conf, limits = _fit(conf)
    return DNSResult(conf, tuple(warnings + limits))


def render_resolv_conf(conf: ResolvConf) -> str:
    lines = []
    if conf.searches:
        lines.append("search " + " ".join(conf.searches))
    lines.extend(f"nameserver {ns}" for ns in conf.nameservers)
    if conf.options:
        lines.append("options " + " ".join(conf.options))
    return "".join(line + "\n" for line in lines)


def resolv_conf(pod: Obj, *, host_resolv_conf: str, cluster_dns: Sequence[str] = CLUSTER_DNS,
                cluster_domain: str = CLUSTER_DOMAIN) -> str:
    """Shortcut: the pod's resolv.conf text from the node's resolv.conf text."""
    return pod_dns(pod, host=parse_resolv_conf(host_resolv_conf), cluster_dns=cluster_dns,
                   cluster_domain=cluster_domain).render()
