"""Tables of networking.k8s.io and discovery.k8s.io kinds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pybernetes.api.tables.networking import PRINTERS, ingress_hosts

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def obj(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "x", "creationTimestamp": "2025-03-01T11:59:00Z"}, **fields}


def cells(group: str, kind: str, o: dict[str, Any]) -> list[Any]:
    return PRINTERS[(group, kind)].cells(o, NOW)


@pytest.mark.parametrize(("hosts", "want"), [
    ([], "*"),
    ([None], "*"),
    (["a.example"], "a.example"),
    (["a", None, "b"], "a,b"),
    (["a", "b", "c"], "a,b,c"),
    (["a", "b", "c", "d", "e"], "a,b,c + 2 more..."),
    (["a", None, "b", "c", "d"], "a,b,c + 2 more..."),
])
def test_ingress_hosts(hosts: list[str | None], want: str) -> None:
    assert ingress_hosts([{"host": h} if h else {} for h in hosts]) == want


def test_ingress() -> None:
    ing = obj(spec={"ingressClassName": "nginx", "rules": [{"host": "web.example"}], "tls": [{"hosts": ["x"]}]},
              status={"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example"},
                                                   {"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}]}})
    assert cells("networking.k8s.io", "Ingress", ing) == ["x", "nginx", "web.example",
                                                          "10.0.0.1,10.0.0.2,lb.example", "80, 443", "60s"]
    assert cells("networking.k8s.io", "Ingress", obj(spec={})) == ["x", "<none>", "*", "", "80", "60s"]
    assert [c["name"] for c in PRINTERS[("networking.k8s.io", "Ingress")].columns] == [
        "Name", "Class", "Hosts", "Address", "Ports", "Age"]


@pytest.mark.parametrize(("params", "want"), [
    (None, "<none>"),
    ({"kind": "IngressParameters", "name": "p"}, "IngressParameters/p"),
    ({"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p", "scope": "Cluster"},
     "IngressParameters.k8s.example.com/p"),
])
def test_ingress_class(params: dict[str, Any] | None, want: str) -> None:
    spec: dict[str, Any] = {"controller": "k8s.io/ingress-nginx"}
    if params is not None:
        spec["parameters"] = params
    assert cells("networking.k8s.io", "IngressClass", obj(spec=spec)) == ["x", "k8s.io/ingress-nginx", want, "60s"]


@pytest.mark.parametrize(("selector", "want"), [
    ({}, "<none>"),
    (None, "<none>"),
    ({"matchLabels": {"role": "db"}}, "role=db"),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod", "dev"]},
                           {"key": "tier", "operator": "Exists"}, {"key": "x", "operator": "DoesNotExist"}]},
     "env notin (dev,prod),tier,!x"),
])
def test_network_policy(selector: dict[str, Any] | None, want: str) -> None:
    spec = {} if selector is None else {"podSelector": selector}
    assert cells("networking.k8s.io", "NetworkPolicy", obj(spec=spec)) == ["x", want, "60s"]


def test_endpoint_slice() -> None:
    es = obj(addressType="IPv4", ports=[{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "metrics"}, {}],
             endpoints=[{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.0.6", "10.42.0.7"]},
                        {"addresses": ["10.42.0.8"]}])
    assert cells("discovery.k8s.io", "EndpointSlice", es) == ["x", "IPv4", "80,metrics,*",
                                                              "10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...", "60s"]
    many_ports = obj(addressType="IPv6", ports=[{"port": p} for p in range(1, 6)], endpoints=[])
    assert cells("discovery.k8s.io", "EndpointSlice", many_ports) == ["x", "IPv6", "1,2,3 + 2 more...", "<unset>",
                                                                      "60s"]
    assert cells("discovery.k8s.io", "EndpointSlice", obj(addressType="FQDN")) == [
        "x", "FQDN", "<unset>", "<unset>", "60s"]


def test_service_cidr_and_ip_address() -> None:
    cidr = obj(spec={"cidrs": ["10.43.0.0/16", "fd00:43::/112"]})
    assert cells("networking.k8s.io", "ServiceCIDR", cidr) == ["x", "10.43.0.0/16,fd00:43::/112", "60s"]
    ip = obj(spec={"parentRef": {"group": "", "resource": "Services", "namespace": "default", "name": "kubernetes"}})
    # upstream sends an age cell although IPAddress declares only two columns
    assert cells("networking.k8s.io", "IPAddress", ip) == ["x", "services/default/kubernetes", "60s"]
    gw = obj(spec={"parentRef": {"group": "gateway.networking.k8s.io", "resource": "gateways", "name": "gw"}})
    assert cells("networking.k8s.io", "IPAddress", gw)[1] == "gateways.gateway.networking.k8s.io/gw"
    assert cells("networking.k8s.io", "IPAddress", obj(spec={}))[1] == "<none>"
