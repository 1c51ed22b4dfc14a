"""The Service kind: defaults (``SetDefaults_Service``), the registry's field fix-ups (cluster IP normalisation,
IP families, keeping allocated values on update, dropping type-dependent fields) and ``ValidateService*``.

Allocation of cluster IPs and node ports happens in the API server, not here; :func:`service_needs_cluster_ip`,
:func:`cluster_ip_families_to_allocate` and :func:`node_ports_needed` tell the allocator what to fill in, and
:func:`node_ports_in_use` what a service holds.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from pybernetes.api.field import FieldError, Path, duplicate, forbidden, invalid, not_supported, required
from pybernetes.api.kinds.common import (
    GoRepr,
    dns_label,
    dns_subdomain,
    go_strings,
    port_num,
    port_num_or_name,
    protocol,
    qualified_name,
)
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import name_is_dns1035_label, valid_cidr, valid_ip, validate_labels

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
DEFAULT_AFFINITY_TIMEOUT = 10800
MAX_AFFINITY_TIMEOUT = 86400
SPEC = Path("spec")


# --- facts about a service ----------------------------------------------------------------------------------------


def _spec(svc: Obj) -> Obj:
    spec = svc.get("spec")
    return spec if isinstance(spec, dict) else {}


def is_headless(svc: Obj) -> bool:
    return _spec(svc).get("clusterIP") == "None"


def externally_accessible(svc: Obj) -> bool:
    spec = _spec(svc)
    t = spec.get("type")
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(spec.get("externalIPs")))


def needs_cluster_ip_field(svc: Obj) -> bool:
    """Upstream ``needsClusterIP``: every type but ExternalName has clusterIP(s) and IP families (even headless)."""
    return _spec(svc).get("type") != "ExternalName"


def service_needs_cluster_ip(svc: Obj) -> bool:
    """True when the allocator must allocate at least one cluster IP for this service."""
    return bool(cluster_ip_families_to_allocate(svc))


def cluster_ip_families_to_allocate(svc: Obj) -> list[tuple[int, str]]:
    """(index in ``clusterIPs``, family) for every family still without an address; empty for headless and
    ExternalName. Run after the strategy's prepare hook, which fills ``ipFamilies``."""
    if not needs_cluster_ip_field(svc) or is_headless(svc):
        return []
    spec = _spec(svc)
    ips = spec.get("clusterIPs") or []
    return [(i, fam) for i, fam in enumerate(spec.get("ipFamilies") or ()) if i >= len(ips) or not ips[i]]


def needs_node_ports(svc: Obj) -> bool:
    spec = _spec(svc)
    t = spec.get("type")
    return t == "NodePort" or (t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)


def needs_health_check_node_port(svc: Obj) -> bool:
    spec = _spec(svc)
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def node_ports_needed(svc: Obj) -> list[Path]:
    """Paths of the node ports the allocator must fill: ``spec.ports[i].nodePort`` and ``spec.healthCheckNodePort``."""
    out: list[Path] = []
    spec = _spec(svc)
    if needs_node_ports(svc):
        for i, p in enumerate(spec.get("ports") or ()):
            if not p.get("nodePort"):
                out.append(SPEC.child("ports").index(i).child("nodePort"))
    if needs_health_check_node_port(svc) and not spec.get("healthCheckNodePort"):
        out.append(SPEC.child("healthCheckNodePort"))
    return out


def node_ports_in_use(svc: Obj) -> list[int]:
    spec = _spec(svc)
    ports = [p["nodePort"] for p in spec.get("ports") or () if p.get("nodePort")]
    if spec.get("healthCheckNodePort"):
        ports.append(spec["healthCheckNodePort"])
    return ports


def ip_family_of(ip: str) -> str | None:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


# --- defaulting and registry fix-ups -------------------------------------------------------------------------------


def default_service(svc: Obj) -> None:
    """Upstream ``SetDefaults_Service`` (and the always-present ``status.loadBalancer``)."""
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        spec = svc["spec"] = {}
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig") or {}
        if (cfg.get("clientIP") or {}).get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_AFFINITY_TIMEOUT}}
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for p in spec.get("ports") or ():
        if not p.get("protocol"):
            p["protocol"] = "TCP"
        if p.get("targetPort") in (None, 0, ""):
            p["targetPort"] = p.get("port", 0)
    t = spec["type"]
    if externally_accessible(svc) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and t in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    status = svc.get("status")
    if not isinstance(status, dict):
        status = svc["status"] = {}
    lb = status.get("loadBalancer")
    if not isinstance(lb, dict):
        lb = status["loadBalancer"] = {}
    if t == "LoadBalancer":
        for ing in lb.get("ingress") or ():
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


def normalize_cluster_ips(svc: Obj, old: Obj | None) -> None:
    """Upstream ``NormalizeClusterIPs``: keep ``clusterIP`` and ``clusterIPs`` in step for old and new clients."""
    spec = _spec(svc)
    cip, cips = spec.get("clusterIP", ""), spec.get("clusterIPs") or []
    if old is None:
        if cip and not cips:
            spec["clusterIPs"] = [cip]
        return
    ospec = _spec(old)
    ocip, ocips = ospec.get("clusterIP", ""), ospec.get("clusterIPs") or []
    if ocips and not cips and ocip == cip:
        spec["clusterIPs"] = cips = list(ocips)
    if ocip != cip:
        same = ocips == cips
        if ocip and not cip:
            if same:
                spec.pop("clusterIPs", None)
        elif same:
            spec["clusterIPs"] = [cip]


def patch_allocated_values(svc: Obj, old: Obj) -> None:
    """Upstream ``patchAllocatedValues``: an update that omits allocated values keeps the old ones."""
    spec, ospec = _spec(svc), _spec(old)
    if needs_cluster_ip_field(old) and needs_cluster_ip_field(svc):
        if not spec.get("clusterIP") and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
        if not spec.get("clusterIPs") and ospec.get("clusterIPs"):
            spec["clusterIPs"] = list(ospec["clusterIPs"])
    if needs_node_ports(old) and needs_node_ports(svc):
        used = ({p.get("nodePort") for p in ospec.get("ports") or () if p.get("nodePort")}
                & {p.get("nodePort") for p in spec.get("ports") or () if p.get("nodePort")})
        by_name = {p.get("name", ""): p.get("nodePort", 0) for p in ospec.get("ports") or ()}
        for p in spec.get("ports") or ():
            if not p.get("nodePort"):
                value = by_name.get(p.get("name", ""), 0)
                if value and value not in used:
                    p["nodePort"] = value
    if needs_health_check_node_port(old) and needs_health_check_node_port(svc):
        if not spec.get("healthCheckNodePort") and ospec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = ospec["healthCheckNodePort"]


def drop_type_dependent_fields(svc: Obj, old: Obj) -> None:
    """Upstream ``dropTypeDependentFields``: a type change wipes values that no longer apply, if left unchanged."""
    spec, ospec = _spec(svc), _spec(old)
    if needs_cluster_ip_field(old) and not needs_cluster_ip_field(svc):
        if (spec.get("clusterIPs") or []) == (ospec.get("clusterIPs") or []):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if (spec.get("ipFamilies") or []) == (ospec.get("ipFamilies") or []):
            spec.pop("ipFamilies", None)
        if spec.get("ipFamilyPolicy") == ospec.get("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if needs_node_ports(old) and not needs_node_ports(svc):
        new_ports = [p.get("nodePort", 0) for p in spec.get("ports") or ()]
        old_ports = [p.get("nodePort", 0) for p in ospec.get("ports") or ()]
        if new_ports == old_ports:
            for p in spec.get("ports") or ():
                p.pop("nodePort", None)
    if needs_health_check_node_port(old) and not needs_health_check_node_port(svc):
        if spec.get("healthCheckNodePort") == ospec.get("healthCheckNodePort"):
            spec.pop("healthCheckNodePort", None)
    if ospec.get("type") == "LoadBalancer" and spec.get("type") != "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is not None and \
                spec.get("allocateLoadBalancerNodePorts") == ospec.get("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("loadBalancerClass") == ospec.get("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
    if externally_accessible(old) and not externally_accessible(svc):
        if spec.get("externalTrafficPolicy") == ospec.get("externalTrafficPolicy"):
            spec.pop("externalTrafficPolicy", None)
    if spec.get("type") != "LoadBalancer":
        svc.setdefault("status", {})["loadBalancer"] = {}


def default_ip_families(svc: Obj, old: Obj | None, cluster_families: tuple[str, ...]) -> None:
    """Upstream ``initIPFamilyFields``: infer ``ipFamilies``/``ipFamilyPolicy`` from clusterIPs, the old object and
    the cluster's service CIDRs (``cluster_families``: primary first)."""
    spec = _spec(svc)
    if not needs_cluster_ip_field(svc):
        spec.pop("ipFamilies", None)
        spec.pop("ipFamilyPolicy", None)
        return
    if spec.get("ipFamilyPolicy") is None and old is not None and _spec(old).get("ipFamilyPolicy") is not None:
        spec["ipFamilyPolicy"] = _spec(old)["ipFamilyPolicy"]
    families = list(spec.get("ipFamilies") or [])
    for i, ip in enumerate(spec.get("clusterIPs") or ()):
        if ip in ("", "None"):
            continue
        fam = ip_family_of(ip)
        if fam is not None and i >= len(families):
            families.append(fam)
    if spec.get("ipFamilyPolicy") is None and len(families) == 2:
        spec["ipFamilyPolicy"] = "RequireDualStack"
    if spec.get("clusterIP") == "None" and not spec.get("selector"):
        if not families:
            families = [cluster_families[0]]
        if spec.get("ipFamilyPolicy") is None:
            spec["ipFamilyPolicy"] = "RequireDualStack"
        if spec["ipFamilyPolicy"] != "SingleStack" and len(families) == 1:
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec["ipFamilies"] = families
        return
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "SingleStack"
    if not families:
        families = [cluster_families[0]]
    if spec["ipFamilyPolicy"] != "SingleStack" and len(families) == 1 and len(cluster_families) == 2:
        families.append(cluster_families[1] if families[0] == cluster_families[0] else cluster_families[0])
    spec["ipFamilies"] = families


def cluster_family_errors(svc: Obj, cluster_families: tuple[str, ...]) -> list[FieldError]:
    """What the allocator rejects before allocating: families or dual-stack the cluster does not serve."""
    spec = _spec(svc)
    if not needs_cluster_ip_field(svc) or (spec.get("clusterIP") == "None" and not spec.get("selector")):
        return []
    errs: list[FieldError] = []
    if spec.get("ipFamilyPolicy") == "RequireDualStack" and len(cluster_families) < 2:
        errs.append(invalid(SPEC.child("ipFamilyPolicy"), "RequireDualStack",
                            "this cluster is not configured for dual-stack services"))
    fams = spec.get("ipFamilies") or []
    if len(fams) > 1 and len(cluster_families) < 2:
        errs.append(invalid(SPEC.child("ipFamilies"), go_strings(fams, "[]core.IPFamily"),
                            "when multiple IP families are specified, the cluster must be configured for dual-stack"))
    for i, fam in enumerate(fams):
        if fam in IP_FAMILIES and fam not in cluster_families:
            errs.append(invalid(SPEC.child("ipFamilies").index(i), fam, "not configured on this cluster"))
    return errs


# --- validation ----------------------------------------------------------------------------------------------------


def _service_port_repr(p: Obj) -> GoRepr:
    return GoRepr(f'core.ServicePort{{Name:"", Protocol:"{p.get("protocol", "")}", AppProtocol:(*string)(nil), '
                  f'Port:{p.get("port", 0)}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, '
                  "NodePort:0}")


def _validate_port(p: Obj, require_name: bool, names_seen: set[str], path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    name = p.get("name", "")
    if require_name and not name:
        errs.append(required(path.child("name"), ""))
    elif name:
        errs.extend(dns_label(name, path.child("name")))
        if name in names_seen:
            errs.append(duplicate(path.child("name"), name))
        else:
            names_seen.add(name)
    errs.extend(port_num(p.get("port", 0), path.child("port")))
    errs.extend(protocol(p.get("protocol"), path.child("protocol")))
    errs.extend(port_num_or_name(p.get("targetPort", 0), path.child("targetPort")))
    if p.get("appProtocol") is not None:
        errs.extend(qualified_name(p["appProtocol"], path.child("appProtocol")))
    return errs


def _validate_cluster_ips(spec: Obj) -> list[FieldError]:
    if spec.get("type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    cp, fp = SPEC.child("clusterIPs"), SPEC.child("ipFamilies")
    cip, cips = spec.get("clusterIP", ""), spec.get("clusterIPs") or []
    if cip:
        if not cips:
            errs.append(required(cp, ""))
        elif cips[0] != cip:
            errs.append(invalid(cp, go_strings(cips), "first value must match `clusterIP`"))
    elif cips:
        errs.append(invalid(cp, go_strings(cips), "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, fam in enumerate(spec.get("ipFamilies") or ()):
        if fam not in IP_FAMILIES:
            errs.append(not_supported(fp.index(i), fam, IP_FAMILIES))
        if fam in seen:
            errs.append(duplicate(fp.index(i), fam))
        seen.add(fam)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported(SPEC.child("ipFamilyPolicy"), policy, IP_FAMILY_POLICIES))
    for i, ip in enumerate(cips):
        if i == 0 and ip == "None":
            if len(cips) > 1:
                errs.append(invalid(cp, go_strings(cips), "'None' must be the first and only value"))
            continue
        errs.extend(invalid(cp.index(i), ip, m) for m in valid_ip(ip))
    if len(cips) > 2:
        errs.append(invalid(cp, go_strings(cips), "may only hold up to 2 values"))
    if errs:
        return errs
    if len(cips) > 1 and len({ip_family_of(ip) for ip in cips}) != len(cips):
        errs.append(invalid(cp, go_strings(cips), "may specify no more than one IP for each IP family"))
    fams = spec.get("ipFamilies") or []
    if cip != "None" and cips and fams:
        for i, ip in enumerate(cips[:len(fams)]):
            if fams[i] == "IPv4" and ip_family_of(ip) == "IPv6":
                errs.append(invalid(cp.index(i), ip, f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if fams[i] == "IPv6" and ip_family_of(ip) != "IPv6":
                errs.append(invalid(cp.index(i), ip, f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    if policy == "SingleStack" and len(cips) > 1:
        errs.append(invalid(cp, go_strings(cips), "must be at most 1 entry when `ipFamilyPolicy` is 'SingleStack'"))
    if policy == "SingleStack" and len(fams) > 1:
        errs.append(invalid(fp, go_strings(fams, "[]core.IPFamily"),
                            "must be at most 1 entry when `ipFamilyPolicy` is 'SingleStack'"))
    return errs


def validate_service(svc: Obj) -> list[FieldError]:
    """Upstream ``ValidateService`` without ObjectMeta (the registry checks that, with the DNS-1035 name rule)."""
    spec = _spec(svc)
    errs: list[FieldError] = []
    t = spec.get("type", "")
    headless = is_headless(svc)
    ports = spec.get("ports") or []
    if not ports and not headless and t != "ExternalName":
        errs.append(required(SPEC.child("ports"), ""))
    cips = spec.get("clusterIPs") or []
    if t == "LoadBalancer" and headless:
        errs.append(invalid(SPEC.child("clusterIPs").index(0), cips[0] if cips else "None",
                            "may not be set to 'None' for LoadBalancer services"))
    elif t == "NodePort" and headless:
        errs.append(invalid(SPEC.child("clusterIPs").index(0), cips[0] if cips else "None",
                            "may not be set to 'None' for NodePort services"))
    elif t == "ExternalName":
        if cips or spec.get("clusterIP"):
            errs.append(forbidden(SPEC.child("clusterIPs"), "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden(SPEC.child("ipFamilies"), "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden(SPEC.child("ipFamilyPolicy"), "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")
        if cname:
            errs.extend(dns_subdomain(cname, SPEC.child("externalName")))
        else:
            errs.append(required(SPEC.child("externalName"), ""))
    seen_names: set[str] = set()
    for i, p in enumerate(ports):
        errs.extend(_validate_port(p, len(ports) > 1, seen_names, SPEC.child("ports").index(i)))
    if spec.get("selector") is not None:
        errs.extend(validate_labels(spec["selector"], SPEC.child("selector")))
    affinity = spec.get("sessionAffinity", "")
    if not affinity:
        errs.append(required(SPEC.child("sessionAffinity"), ""))
    elif affinity not in SESSION_AFFINITIES:
        errs.append(not_supported(SPEC.child("sessionAffinity"), affinity, SESSION_AFFINITIES))
    cfg = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        timeout = ((cfg or {}).get("clientIP") or {}).get("timeoutSeconds")
        if cfg is None:
            errs.append(required(SPEC.child("sessionAffinityConfig"), "when session affinity type is ClientIP"))
        elif timeout is None:
            errs.append(required(SPEC.child("sessionAffinityConfig", "clientIP"),
                                 "when session affinity type is ClientIP"))
        elif not 0 < timeout <= MAX_AFFINITY_TIMEOUT:
            errs.append(invalid(SPEC.child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), timeout,
                                f"must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT}"))
    elif affinity == "None" and cfg is not None:
        errs.append(forbidden(SPEC.child("sessionAffinityConfig"), "must not be set when session affinity is None"))
    errs.extend(_validate_cluster_ips(spec))
    for i, ip in enumerate(spec.get("externalIPs") or ()):
        ep = SPEC.child("externalIPs").index(i)
        msgs = valid_ip(ip)
        errs.extend(invalid(ep, ip, m) for m in msgs)
    if not t:
        errs.append(required(SPEC.child("type"), ""))
    elif t not in SERVICE_TYPES:
        errs.append(not_supported(SPEC.child("type"), t, SERVICE_TYPES))
    if t == "ClusterIP":
        for i, p in enumerate(ports):
            if p.get("nodePort"):
                errs.append(forbidden(SPEC.child("ports").index(i).child("nodePort"),
                                      "may not be used when `type` is 'ClusterIP'"))
    seen_node_ports: set[tuple[str, int]] = set()
    seen_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        pp = SPEC.child("ports").index(i)
        if p.get("nodePort"):
            key = (p.get("protocol", ""), p["nodePort"])
            if key in seen_node_ports:
                errs.append(duplicate(pp.child("nodePort"), p["nodePort"]))
            seen_node_ports.add(key)
    for i, p in enumerate(ports):
        key = (p.get("protocol", ""), p.get("port", 0))
        if key in seen_ports:
            errs.append(duplicate(SPEC.child("ports").index(i), _service_port_repr(p)))
        seen_ports.add(key)
    ranges = spec.get("loadBalancerSourceRanges") or []
    if ranges:
        if t != "LoadBalancer":
            errs.append(forbidden(SPEC.child("loadBalancerSourceRanges"),
                                  "may only be used when `type` is 'LoadBalancer'"))
        for i, r in enumerate(ranges):
            if valid_cidr(r.strip()):
                errs.append(invalid(SPEC.child("loadBalancerSourceRanges").index(i), r,
                                    "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 "))
    if t == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            errs.append(required(SPEC.child("allocateLoadBalancerNodePorts"), ""))
    elif spec.get("allocateLoadBalancerNodePorts") is not None:
        errs.append(forbidden(SPEC.child("allocateLoadBalancerNodePorts"),
                              "may only be used when `type` is 'LoadBalancer'"))
    if spec.get("loadBalancerClass") is not None:
        if t != "LoadBalancer":
            errs.append(forbidden(SPEC.child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
        else:
            errs.extend(qualified_name(spec["loadBalancerClass"], SPEC.child("loadBalancerClass")))
    etp = spec.get("externalTrafficPolicy", "")
    if not externally_accessible(svc):
        if etp:
            errs.append(invalid(SPEC.child("externalTrafficPolicy"), etp,
                                "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(required(SPEC.child("externalTrafficPolicy"), ""))
    elif etp not in TRAFFIC_POLICIES:
        errs.append(not_supported(SPEC.child("externalTrafficPolicy"), etp, TRAFFIC_POLICIES))
    hc = spec.get("healthCheckNodePort", 0)
    if hc:
        if t != "LoadBalancer" or etp != "Local":
            errs.append(invalid(SPEC.child("healthCheckNodePort"), hc,
                                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                                "'Local'"))
        else:
            errs.extend(port_num(hc, SPEC.child("healthCheckNodePort")))
    itp = spec.get("internalTrafficPolicy")
    if itp is None:
        if t in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.append(required(SPEC.child("internalTrafficPolicy"), ""))
    elif itp not in TRAFFIC_POLICIES:
        errs.append(not_supported(SPEC.child("internalTrafficPolicy"), itp, TRAFFIC_POLICIES))
    td = spec.get("trafficDistribution")
    if td is not None and td not in ("PreferClose",):
        errs.append(not_supported(SPEC.child("trafficDistribution"), td, ("PreferClose",)))
    return errs


def _upgrade_downgrade(svc: Obj, old: Obj) -> list[FieldError]:
    spec, ospec = _spec(svc), _spec(old)
    if "ExternalName" in (spec.get("type"), ospec.get("type")):
        return []
    if is_headless(svc) and is_headless(old):
        return []
    errs: list[FieldError] = []
    cips, ocips = spec.get("clusterIPs") or [], ospec.get("clusterIPs") or []
    cp = SPEC.child("clusterIPs")
    if len(ocips) == len(cips):
        for i, ip in enumerate(ocips):
            if ip != cips[i]:
                errs.append(invalid(cp.index(i), go_strings(cips), "may not change once set"))
    elif len(ocips) > len(cips):
        if not cips:
            errs.append(invalid(cp.index(0), go_strings(cips), "primary clusterIP can not be unset"))
        if ocips and cips and cips[0] != ocips[0]:
            errs.append(invalid(cp.index(0), go_strings(cips), "may not change once set"))
        if len(cips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            errs.append(invalid(cp.index(0), go_strings(cips),
                                "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP"))
    elif ocips and cips[0] != ocips[0]:
        errs.append(invalid(cp.index(0), go_strings(cips), "may not change once set"))
    fams, ofams = spec.get("ipFamilies") or [], ospec.get("ipFamilies") or []
    fp = SPEC.child("ipFamilies")
    if len(ofams) == len(fams):
        for i, f in enumerate(ofams):
            if f != fams[i]:
                errs.append(invalid(fp.index(0), go_strings(fams, "[]core.IPFamily"), "may not change once set"))
    elif len(ofams) > len(fams):
        if not fams:
            errs.append(invalid(fp.index(0), go_strings(fams, "[]core.IPFamily"), "primary ipFamily can not be unset"))
        elif ofams[0] != fams[0]:
            errs.append(invalid(fp.index(0), go_strings(fams, "[]core.IPFamily"), "may not change once set"))
    elif ofams and fams[0] != ofams[0]:
        errs.append(invalid(fp.index(0), go_strings(fams, "[]core.IPFamily"), "may not change once set"))
    return errs


def _load_balancer_class_update(svc: Obj, old: Obj) -> list[FieldError]:
    spec, ospec = _spec(svc), _spec(old)
    if ospec.get("type") == "LoadBalancer" and spec.get("type") == "LoadBalancer" and \
            ospec.get("loadBalancerClass") != spec.get("loadBalancerClass"):
        return [invalid(SPEC.child("loadBalancerClass"), spec.get("loadBalancerClass"), "may not change once set")]
    return []


def validate_service_status(svc: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    ip_path = Path("status", "loadBalancer", "ingress")
    for i, ing in enumerate(((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()):
        ip = ip_path.index(i)
        if ing.get("ip"):
            errs.extend(invalid(ip.child("ip"), ing["ip"], m) for m in valid_ip(ing["ip"]))
        if ing.get("hostname"):
            errs.extend(dns_subdomain(ing["hostname"], ip.child("hostname")))
            if ip_family_of(ing["hostname"]) is not None:
                errs.append(invalid(ip.child("hostname"), ing["hostname"], "must be a DNS name, not an IP address"))
        if ing.get("ipMode") is not None:
            if not ing.get("ip"):
                errs.append(forbidden(ip.child("ipMode"), "may not be specified when `ip` is not set"))
            elif ing["ipMode"] not in ("Proxy", "VIP"):
                errs.append(not_supported(ip.child("ipMode"), ing["ipMode"], ("Proxy", "VIP")))
        elif ing.get("ip") and (svc.get("spec") or {}).get("type") == "LoadBalancer":
            errs.append(required(ip.child("ipMode"), "must be specified when `ip` is set"))
    return errs


class ServiceStrategy(Strategy):
    has_status_subresource: ClassVar[bool] = True
    name_fn = staticmethod(name_is_dns1035_label)

    def __init__(self, *, cluster_families: tuple[str, ...] = ("IPv4",)) -> None:
        self.cluster_families = cluster_families

    def default(self, obj: Obj) -> None:
        default_service(obj)

    def reset_status(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        normalize_cluster_ips(obj, None)
        default_ip_families(obj, None, self.cluster_families)

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_for_update(obj, old)
        patch_allocated_values(obj, old)
        normalize_cluster_ips(obj, old)
        drop_type_dependent_fields(obj, old)
        default_ip_families(obj, old, self.cluster_families)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_service(obj) + cluster_family_errors(obj, self.cluster_families)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return (_upgrade_downgrade(obj, old) + _load_balancer_class_update(obj, old) + validate_service(obj)
                + cluster_family_errors(obj, self.cluster_families))

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_service_status(obj)
