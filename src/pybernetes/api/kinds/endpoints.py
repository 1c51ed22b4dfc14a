"""The core/v1 Endpoints kind (upstream ``ValidateEndpoints*``, ``SetDefaults_Endpoints``)."""

from __future__ import annotations

import ipaddress

from pybernetes.api.field import FieldError, Path, invalid, required
from pybernetes.api.kinds.common import dns_label, port_num, protocol, qualified_name
from pybernetes.api.strategy import Obj, Strategy
from pybernetes.api.validation.names import name_is_dns_subdomain, valid_ip


def default_endpoints(ep: Obj) -> None:
    for subset in ep.get("subsets") or ():
        for port in subset.get("ports") or ():
            if not port.get("protocol"):
                port["protocol"] = "TCP"


def _non_special_ip(ip: str, path: Path) -> list[FieldError]:
    """Upstream ``ValidateNonSpecialIP``: endpoints may not point at unspecified, loopback or link-local addresses."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return [invalid(path, ip, "must be a valid IP address")]
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    errs: list[FieldError] = []
    if addr.is_unspecified:
        errs.append(invalid(path, ip, f"may not be unspecified ({ip})"))
    if addr.is_loopback:
        errs.append(invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if addr.is_link_local and not addr.is_multicast:
        errs.append(invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if addr in ipaddress.ip_network("224.0.0.0/24") or addr in ipaddress.ip_network("ff02::/16"):
        errs.append(invalid(path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def _address(addr: Obj, path: Path) -> list[FieldError]:
    ip = addr.get("ip", "")
    msgs = valid_ip(ip)
    errs = [invalid(path.child("ip"), ip, m) for m in msgs]
    if addr.get("hostname"):
        errs.extend(dns_label(addr["hostname"], path.child("hostname")))
    if addr.get("nodeName") is not None:
        errs.extend(invalid(path.child("nodeName"), addr["nodeName"], m)
                    for m in name_is_dns_subdomain(addr["nodeName"], False))
    if not msgs:
        errs.extend(_non_special_ip(ip, path.child("ip")))
    return errs


def validate_endpoints(ep: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    path = Path("subsets")
    for i, ss in enumerate(ep.get("subsets") or ()):
        ip = path.index(i)
        addrs, not_ready = ss.get("addresses") or [], ss.get("notReadyAddresses") or []
        if not addrs and not not_ready:
            errs.append(required(ip, "must specify `addresses` or `notReadyAddresses`"))
        for j, a in enumerate(addrs):
            errs.extend(_address(a, ip.child("addresses").index(j)))
        for j, a in enumerate(not_ready):
            errs.extend(_address(a, ip.child("notReadyAddresses").index(j)))
        ports = ss.get("ports") or []
        for j, p in enumerate(ports):
            pp = ip.child("ports").index(j)
            if len(ports) > 1 and not p.get("name"):
                errs.append(required(pp.child("name"), ""))
            elif p.get("name"):
                errs.extend(dns_label(p["name"], pp.child("name")))
            errs.extend(port_num(p.get("port", 0), pp.child("port")))
            errs.extend(protocol(p.get("protocol"), pp.child("protocol")))
            if p.get("appProtocol") is not None:
                errs.extend(qualified_name(p["appProtocol"], pp.child("appProtocol")))
    return errs


class EndpointsStrategy(Strategy):
    allow_create_on_update = True

    def default(self, obj: Obj) -> None:
        default_endpoints(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return validate_endpoints(obj)
