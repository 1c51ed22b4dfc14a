"""networking.k8s.io/v1: NetworkPolicy, Ingress, IngressClass (upstream ``pkg/apis/networking``).

Defaults as ``pkg/apis/networking/v1/defaults.go``: a policy port without protocol is TCP; a policy without
``policyTypes`` is an Ingress policy, plus Egress when it has egress rules; IngressClass parameters are
cluster-scoped unless they say otherwise. An IngressClass's ``controller`` never changes: controllers claim
Ingresses by class, and a switch would strand the Ingresses already programmed.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pybernetes.api.field import FieldError, Path, forbidden, invalid, not_supported, required, too_long
from pybernetes.api.kinds.common import GoRepr
from pybernetes.api.kinds.fieldchecks import domain_prefixed_path, immutable
from pybernetes.api.selectors import validate_label_selector
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import (
    dns1035_label,
    dns1123_subdomain,
    path_segment_name,
    port_name,
    port_num,
    valid_cidr,
    valid_ip,
    wildcard_dns1123_subdomain,
)

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")
MAX_CONTROLLER_LEN = 250
SCOPES = ("Cluster", "Namespace")
SPEC = Path("spec")


# ---------------------------------------------------------------- NetworkPolicy


def default_network_policy(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or ():
            for port in (rule or {}).get("ports") or ():
                if isinstance(port, dict) and port.get("protocol") is None:
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _policy_port(port: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    proto = port.get("protocol")
    if proto is not None and proto not in PROTOCOLS:
        errs.append(not_supported(path.child("protocol"), proto, list(PROTOCOLS)))
    p, end = port.get("port"), port.get("endPort")
    if p is None:
        if end is not None:
            errs.append(invalid(path.child("endPort"), end, "may not be specified when `port` is not specified"))
    elif isinstance(p, int):
        errs += [invalid(path.child("port"), p, m) for m in port_num(p)]
        if end is not None:
            if end < p:
                errs.append(invalid(path.child("endPort"), p, "must be greater than or equal to `port`"))
            errs += [invalid(path.child("endPort"), end, m) for m in port_num(end)]
    else:
        if end is not None:
            errs.append(invalid(path.child("endPort"), end, "may not be specified when `port` is non-numeric"))
        errs += [invalid(path.child("port"), p, m) for m in port_name(p)]
    return errs


def _ip_block(block: Obj, path: Path) -> list[FieldError]:
    cidr = block.get("cidr", "")
    if not cidr:
        return [required(path.child("cidr"))]
    errs = [invalid(path.child("cidr"), cidr, m) for m in valid_cidr(cidr)]
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return errs
    for i, ex in enumerate(block.get("except") or []):
        epath = path.child("except").index(i)
        msgs = valid_cidr(ex)
        errs += [invalid(epath, ex, m) for m in msgs]
        try:
            exnet = ipaddress.ip_network(ex, strict=False)
        except ValueError:
            continue
        if exnet.version != net.version or exnet.network_address not in net or net.prefixlen >= exnet.prefixlen:
            errs.append(invalid(epath, ex, "must be a strict subset of `cidr`"))
    return errs


def _peer(peer: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs += validate_label_selector(peer[key], path.child(key))
    if peer.get("ipBlock") is not None:
        count += 1
        errs += _ip_block(peer["ipBlock"], path.child("ipBlock"))
    if count == 0:
        errs.append(required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs = validate_label_selector(spec.get("podSelector") or {}, path.child("podSelector"))
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            rule = rule or {}
            rpath = path.child(direction).index(i)
            for j, port in enumerate(rule.get("ports") or []):
                errs += _policy_port(port or {}, rpath.child("ports").index(j))
            for j, peer in enumerate(rule.get(peers) or []):
                errs += _peer(peer or {}, rpath.child(peers).index(j))
    types = spec.get("policyTypes") or []
    if len(types) > len(POLICY_TYPES):
        errs.append(invalid(path.child("policyTypes"), types, "may not specify more than two policyTypes"))
        return errs
    for i, t in enumerate(types):
        if t not in POLICY_TYPES:
            errs.append(not_supported(path.child("policyTypes").index(i), t, list(POLICY_TYPES)))
    return errs


class NetworkPolicyStrategy(Strategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        default_network_policy(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_network_policy_spec(obj.get("spec") or {})


# ---------------------------------------------------------------- Ingress


def _typed_ref(ref: Obj, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    group = ref.get("apiGroup")
    if group is not None:
        errs += [invalid(path.child("apiGroup"), group, m) for m in dns1123_subdomain(group)]
    for key in ("kind", "name"):
        v = ref.get(key, "")
        if not v:
            errs.append(required(path.child(key), f"{key} is required"))
        else:
            errs += [invalid(path.child(key), v, m) for m in path_segment_name(v)]
    return errs


def _backend(backend: Obj, path: Path) -> list[FieldError]:
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _typed_ref(resource, path.child("resource"))
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    errs: list[FieldError] = []
    name = service.get("name", "")
    if not name:
        errs.append(required(path.child("service", "name")))
    else:
        errs += [invalid(path.child("service", "name"), name, m) for m in dns1035_label(name)]
    port = service.get("port") or {}
    pname, pnum = port.get("name") or "", port.get("number") or 0
    if pname and pnum:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif pname:
        errs += [invalid(path.child("service", "port", "name"), pname, m) for m in port_name(pname)]
    elif pnum:
        errs += [invalid(path.child("service", "port", "number"), pnum, m) for m in port_num(pnum)]
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _http_path(p: Obj, path: Path) -> list[FieldError]:
    kind = p.get("pathType")
    if kind is None:
        return [required(path.child("pathType"), "pathType must be specified")]
    errs: list[FieldError] = []
    value = p.get("path") or ""
    ppath = path.child("path")
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(ppath, value, "must be an absolute path"))
        if value:
            errs += [invalid(ppath, value, f"must not contain '{s}'") for s in INVALID_PATH_SEQUENCES if s in value]
            errs += [invalid(ppath, value, f"cannot end with '{s}'") for s in INVALID_PATH_SUFFIXES
                     if value.endswith(s)]
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(ppath, value, "must be an absolute path"))
    else:
        errs.append(not_supported(path.child("pathType"), kind, list(PATH_TYPES)))
    return errs + _backend(p.get("backend") or {}, path.child("backend"))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_errors(host: str, path: Path) -> list[FieldError]:
    check = wildcard_dns1123_subdomain if "*" in host else dns1123_subdomain
    return [invalid(path, host, m) for m in check(host)]


def _rules(rules: list[Any], path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        rule = rule or {}
        host = rule.get("host") or ""
        if host:
            if _is_ip(host):
                errs.append(invalid(path.index(i).child("host"), host, "must be a DNS name, not an IP address"))
            errs += _host_errors(host, path.index(i).child("host"))
        http = rule.get("http")
        if http is not None:
            hpath = path.index(i).child("http")
            paths = http.get("paths") or []
            if not paths:
                errs.append(required(hpath.child("paths")))
            for j, p in enumerate(paths):
                errs += _http_path(p or {}, hpath.child("paths").index(j))
    return errs


def _tls(tls: list[Any], path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, t in enumerate(tls):
        t = t or {}
        for j, host in enumerate(t.get("hosts") or []):
            errs += _host_errors(host, path.index(i).child("hosts").index(j))
        secret = t.get("secretName") or ""
        if secret:
            errs += [invalid(path.index(i).child("secretName"), secret, m) for m in dns1123_subdomain(secret)]
    return errs


def validate_ingress_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    errs: list[FieldError] = []
    rules, default = spec.get("rules") or [], spec.get("defaultBackend")
    if not rules and default is None:
        errs.append(invalid(path, GoRepr("[]networking.IngressRule(nil)") if spec.get("rules") is None else [],
                            "either `defaultBackend` or `rules` must be specified"))
    if default is not None:
        errs += _backend(default, path.child("defaultBackend"))
    if rules:
        errs += _rules(rules, path.child("rules"))
    if spec.get("tls"):
        errs += _tls(spec["tls"], path.child("tls"))
    cls = spec.get("ingressClassName")
    if cls is not None:
        errs += [invalid(path.child("ingressClassName"), cls, m) for m in dns1123_subdomain(cls)]
    return errs


def validate_ingress_status(status: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    path = Path("status", "loadBalancer", "ingress")
    for i, ing in enumerate((status.get("loadBalancer") or {}).get("ingress") or []):
        ing = ing or {}
        ip, host = ing.get("ip"), ing.get("hostname")
        if ip:
            errs += [invalid(path.index(i).child("ip"), ip, m) for m in valid_ip(ip)]
        if host:
            errs += [invalid(path.index(i).child("hostname"), host, m) for m in dns1123_subdomain(host)]
            if _is_ip(host):
                errs.append(invalid(path.index(i).child("hostname"), host, "must be a DNS name, not an IP address"))
    return errs


class IngressStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True

    def reset_status(self, obj: Obj) -> None:
        """The status a real server stores at create: Go's zero status, non-omitempty fields included."""
        obj["status"] = {"loadBalancer": {}}

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_ingress_spec(obj.get("spec") or {})

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_ingress_status(obj.get("status") or {})


# ---------------------------------------------------------------- IngressClass


def default_ingress_class(obj: Obj) -> None:
    params = (obj.get("spec") or {}).get("parameters")
    if isinstance(params, dict) and params.get("scope") is None:
        params["scope"] = "Cluster"


def _parameters(params: Obj | None, path: Path) -> list[FieldError]:
    if params is None:
        return []
    errs = _typed_ref(params, path)
    scope = params.get("scope")
    ns = params.get("namespace")
    if scope is None:
        errs.append(required(path.child("scope")))
        return errs
    if scope not in SCOPES:
        errs.append(not_supported(path.child("scope"), scope, list(SCOPES)))
    if scope == "Namespace" and not ns:
        errs.append(required(path.child("namespace"), "`parameters.scope` is set to 'Namespace'"))
    if scope == "Cluster" and ns is not None:
        errs.append(forbidden(path.child("namespace"), "`parameters.scope` is set to 'Cluster'"))
    if ns:
        errs += [invalid(path.child("namespace"), ns, m) for m in dns1123_subdomain(ns)]
    return errs


def validate_ingress_class_spec(spec: Obj, path: Path = SPEC) -> list[FieldError]:
    controller = spec.get("controller", "")
    errs: list[FieldError] = []
    if len(controller) > MAX_CONTROLLER_LEN:
        errs.append(too_long(path.child("controller"), controller, MAX_CONTROLLER_LEN))
    errs += domain_prefixed_path(controller, path.child("controller"))
    errs += _parameters(spec.get("parameters"), path.child("parameters"))
    return errs


class IngressClassStrategy(Strategy):
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        default_ingress_class(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_ingress_class_spec(obj.get("spec") or {})

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        return immutable(spec.get("controller"), old_spec.get("controller"), SPEC.child("controller")) + \
            self.validate(obj)
