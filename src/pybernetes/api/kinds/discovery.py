"""discovery.k8s.io/v1 EndpointSlice (upstream ``pkg/apis/discovery``, ``pkg/registry/discovery/endpointslice``).

EndpointSlices are written by the EndpointSlice controller on every pod change and read by every kube-proxy, so
validation is linear in the slice and does no more than upstream. ``metadata.generation`` moves on any change to
the slice other than metadata, and on label changes (kube-proxy and the controller key on the service label).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pybernetes.api.field import FieldError, Path, duplicate, invalid, not_supported, required, too_many
from pybernetes.api.kinds.fieldchecks import immutable
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import (
    dns1123_label,
    dns1123_subdomain,
    label_value,
    qualified_name,
    validate_labels,
)

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_TOPOLOGY_LABELS = 16
MAX_ADDRESSES = 100
MAX_PORTS = 20000
MAX_ENDPOINTS = 1000
MAX_ZONE_HINTS = 8


def default_endpoint_slice(obj: Obj) -> None:
    """``SetDefaults_EndpointPort``: every port has a name (possibly "") and a protocol (TCP)."""
    for port in obj.get("ports") or ():
        if isinstance(port, dict):
            if port.get("name") is None:
                port["name"] = ""
            if port.get("protocol") is None:
                port["protocol"] = "TCP"


def _ip_errors(addr: str, version: int, path: Path) -> list[FieldError]:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        ip = None
    if ip is None or ip.version != version:
        return [invalid(path, addr, f"must be a valid IPv{version} address")]
    return _endpoint_ip(ip, addr, path)


def _endpoint_ip(ip: Any, addr: str, path: Path) -> list[FieldError]:
    """``ValidateEndpointIP``: addresses a Service could never route to are refused."""
    if ip.is_unspecified:
        return [invalid(path, addr, "may not be unspecified (0.0.0.0, ::)")]
    if ip.is_loopback:
        return [invalid(path, addr, "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    if ip.is_link_local:
        return [invalid(path, addr, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")]
    if ip.is_multicast:
        return [invalid(path, addr, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")] \
            if _link_local_multicast(ip) else []
    return []


def _link_local_multicast(ip: Any) -> bool:
    if ip.version == 4:
        return ip in ipaddress.ip_network("224.0.0.0/24")
    return ip in ipaddress.ip_network("ff02::/16")


def _fqdn(addr: str, path: Path) -> list[FieldError]:
    """``IsFullyQualifiedDomainName``: a DNS subdomain with at least two labels."""
    name = addr[:-1] if addr.endswith(".") else addr
    if not name:
        return [required(path)]
    errs = [invalid(path, addr, m) for m in dns1123_subdomain(name)]
    if not errs and "." not in name:
        errs.append(invalid(path, addr, "should be a domain with at least two segments separated by dots"))
    return errs


def _endpoints(endpoints: list[Any], addr_type: str, path: Path) -> list[FieldError]:
    if len(endpoints) > MAX_ENDPOINTS:
        return [too_many(path, len(endpoints), MAX_ENDPOINTS)]
    errs: list[FieldError] = []
    for i, ep in enumerate(endpoints):
        ep = ep or {}
        ipath = path.index(i)
        apath = ipath.child("addresses")
        addresses = ep.get("addresses") or []
        if not addresses:
            errs.append(required(apath, "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(too_many(apath, len(addresses), MAX_ADDRESSES))
        for j, addr in enumerate(addresses):
            if addr_type == "IPv4":
                errs += _ip_errors(addr, 4, apath.index(j))
            elif addr_type == "IPv6":
                errs += _ip_errors(addr, 6, apath.index(j))
            elif addr_type == "FQDN":
                errs += _fqdn(addr, apath.index(j))
        node = ep.get("nodeName")
        if node is not None:
            errs += [invalid(ipath.child("nodeName"), node, m) for m in dns1123_subdomain(node)]
        topology = ep.get("deprecatedTopology") or {}
        tpath = ipath.child("deprecatedTopology")
        if len(topology) > MAX_TOPOLOGY_LABELS:
            errs.append(too_many(tpath, len(topology), MAX_TOPOLOGY_LABELS))
        errs += validate_labels(topology, tpath)
        zone = ep.get("zone")
        if zone is not None:
            errs += [invalid(ipath.child("zone"), zone, m) for m in label_value(zone)]
        hostname = ep.get("hostname")
        if hostname is not None:
            errs += [invalid(ipath.child("hostname"), hostname, m) for m in dns1123_label(hostname)]
        hints = ep.get("hints")
        if isinstance(hints, dict):
            errs += _hints(hints, ipath.child("hints"))
    return errs


def _hints(hints: Obj, path: Path) -> list[FieldError]:
    zones = hints.get("forZones") or []
    zpath = path.child("forZones")
    if len(zones) > MAX_ZONE_HINTS:
        return [too_many(zpath, len(zones), MAX_ZONE_HINTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, z in enumerate(zones):
        name = (z or {}).get("name", "")
        p = zpath.index(i).child("name")
        if name in seen:
            errs.append(duplicate(p, name))
        seen.add(name)
        errs += [invalid(p, name, m) for m in label_value(name)]
    return errs


def _ports(ports: list[Any], path: Path) -> list[FieldError]:
    if len(ports) > MAX_PORTS:
        return [too_many(path, len(ports), MAX_PORTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port = port or {}
        ipath = path.index(i)
        name = port.get("name") or ""
        if name:
            errs += [invalid(ipath.child("name"), name, m) for m in dns1123_label(name)]
        if name in seen:
            errs.append(duplicate(ipath.child("name"), name))
        seen.add(name)
        proto = port.get("protocol")
        if proto is None:
            errs.append(required(ipath.child("protocol")))
        elif proto not in PROTOCOLS:
            errs.append(not_supported(ipath.child("protocol"), proto, list(PROTOCOLS)))
        app = port.get("appProtocol")
        if app is not None:
            errs += [invalid(ipath.child("appProtocol"), app, m) for m in qualified_name(app)]
    return errs


def validate_endpoint_slice(obj: Obj) -> list[FieldError]:
    return _endpoints(obj.get("endpoints") or [], obj.get("addressType", ""), Path("endpoints")) + \
        _ports(obj.get("ports") or [], Path("ports"))


def _address_type(obj: Obj) -> list[FieldError]:
    kind = obj.get("addressType", "")
    if not kind:
        return [required("addressType")]
    if kind not in ADDRESS_TYPES:
        return [not_supported("addressType", kind, list(ADDRESS_TYPES))]
    return []


class EndpointSliceStrategy(Strategy):
    def default(self, obj: Obj) -> None:
        default_endpoint_slice(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        obj["metadata"]["generation"] = 1

    def prepare_for_update(self, obj: Obj, old: Obj) -> None:
        meta, old_meta = obj["metadata"], old["metadata"]
        gen = old_meta.get("generation", 1)
        body = {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
        old_body = {k: v for k, v in old.items() if k not in ("metadata", "apiVersion", "kind")}
        if body != old_body or (meta.get("labels") or {}) != (old_meta.get("labels") or {}):
            gen += 1
        meta["generation"] = gen

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_endpoint_slice(obj) + _address_type(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_endpoint_slice(obj) + immutable(obj.get("addressType"), old.get("addressType"), "addressType")
