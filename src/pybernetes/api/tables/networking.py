"""Tables of networking.k8s.io/v1 (Ingress, IngressClass, NetworkPolicy, ServiceCIDR, IPAddress) and
discovery.k8s.io/v1 EndpointSlice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pybernetes.api.tables.descriptions import DOCS
from pybernetes.api.tables.printer import (
    AGE,
    NAME,
    Obj,
    Printer,
    age_of,
    column,
    format_label_selector,
    list_with_more,
)

__all__ = ["PRINTERS", "ingress_hosts"]

_EMPTY: dict[str, Any] = {}


def _name(obj: Obj) -> str:
    name: str = (obj.get("metadata") or _EMPTY).get("name", "")
    return name


def ingress_hosts(rules: list[dict[str, Any]]) -> str:
    """``formatHosts``: the first three non-empty hosts, " + N more..." counted over *all* rules; "*" if none."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _ingress(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY
    cls = spec.get("ingressClassName")
    found = set()
    for ing in (status.get("loadBalancer") or _EMPTY).get("ingress") or ():
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return [_name(obj), "<none>" if cls is None else cls, ingress_hosts(spec.get("rules") or []),
            ",".join(sorted(found)), "80, 443" if spec.get("tls") else "80", age_of(obj, now)]


def _ingress_class(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or _EMPTY
    params = spec.get("parameters")
    shown = "<none>"
    if params is not None:
        shown = params.get("kind") or ""
        if params.get("apiGroup") is not None:
            shown += "." + params["apiGroup"]
        shown += "/" + (params.get("name") or "")
    return [_name(obj), spec.get("controller") or "", shown, age_of(obj, now)]


def _network_policy(obj: Obj, now: datetime) -> list[Any]:
    selector = (obj.get("spec") or _EMPTY).get("podSelector") or {}
    return [_name(obj), format_label_selector(selector), age_of(obj, now)]


def _endpoint_slice(obj: Obj, now: datetime) -> list[Any]:
    ports = obj.get("ports") or []
    port_cells = []
    for p in ports[:3]:
        if p.get("port") is not None:
            port_cells.append(str(p["port"]))
        elif p.get("name") is not None:
            port_cells.append(p["name"])
        else:
            port_cells.append("*")
    addresses = [a for e in obj.get("endpoints") or () for a in e.get("addresses") or ()]
    return [_name(obj), obj.get("addressType") or "", list_with_more(port_cells, len(ports), 3),
            list_with_more(addresses[:3], len(addresses), 3), age_of(obj, now)]


def _service_cidr(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), ",".join((obj.get("spec") or _EMPTY).get("cidrs") or ()), age_of(obj, now)]


def _ip_address(obj: Obj, now: datetime) -> list[Any]:
    ref = (obj.get("spec") or _EMPTY).get("parentRef")
    parent = "<none>"
    if ref is not None:
        group, resource = ref.get("group") or "", ref.get("resource") or ""
        parent = (f"{resource}.{group}" if group else resource).lower()
        if ref.get("namespace"):
            parent += "/" + ref["namespace"]
        parent += "/" + (ref.get("name") or "")
    return [_name(obj), parent, age_of(obj, now)]


PRINTERS = {
    ("networking.k8s.io", "Ingress"): Printer((
        NAME,
        column("Class", "string",
               "The name of the IngressClass resource that should be used for additional configuration"),
        column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
        column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
        column("Ports", "string", "Ports of TLS configurations that open"),
        AGE,
    ), _ingress),
    ("networking.k8s.io", "IngressClass"): Printer((
        NAME,
        column("Controller", "string", "Controller that is responsible for handling this class"),
        column("Parameters", "string", "A reference to a resource with additional parameters"),
        AGE,
    ), _ingress_class),
    ("networking.k8s.io", "NetworkPolicy"): Printer((
        NAME,
        column("Pod-Selector", "string", DOCS["extensions.NetworkPolicySpec.podSelector"]),
        AGE,
    ), _network_policy),
    ("networking.k8s.io", "ServiceCIDR"): Printer((
        NAME,
        column("CIDRs", "string", DOCS["networkingv1beta1.ServiceCIDRSpec.cidrs"]),
        AGE,
    ), _service_cidr),
    ("networking.k8s.io", "IPAddress"): Printer((
        NAME,
        column("ParentRef", "string", DOCS["networkingv1beta1.IPAddressSpec.parentRef"]),
    ), _ip_address),
    ("discovery.k8s.io", "EndpointSlice"): Printer((
        NAME,
        column("AddressType", "string", DOCS["discoveryv1beta1.EndpointSlice.addressType"]),
        column("Ports", "string", DOCS["discoveryv1beta1.EndpointSlice.ports"]),
        column("Endpoints", "string", DOCS["discoveryv1beta1.EndpointSlice.endpoints"]),
        AGE,
    ), _endpoint_slice),
}
