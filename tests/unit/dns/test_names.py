from __future__ import annotations

import pytest

from pybernetes.dns import names
from pybernetes.dns.names import InvalidName, Request

Z = "cluster.local"


@pytest.mark.parametrize(("name", "want"), [
    ("cluster.local", Request()),
    ("svc.cluster.local", Request()),
    ("pod.cluster.local", Request()),
    ("default.svc.cluster.local", Request(kind="svc", namespace="default")),
    ("nginx.default.svc.cluster.local", Request(kind="svc", namespace="default", service="nginx")),
    ("web-0.web.ns.svc.cluster.local", Request(kind="svc", namespace="ns", service="web", endpoint="web-0")),
    ("_http._tcp.web.ns.svc.cluster.local",
     Request(kind="svc", namespace="ns", service="web", port="http", protocol="tcp")),
    ("http.tcp.web.ns.svc.cluster.local",
     Request(kind="svc", namespace="ns", service="web", port="http", protocol="tcp")),
    ("10-42-0-5.default.pod.cluster.local", Request(kind="pod", namespace="default", service="10-42-0-5")),
])
def test_parse_request(name: str, want: Request) -> None:
    assert names.parse_request(name, Z) == want


@pytest.mark.parametrize("name", [
    "nginx.default.cluster.local",                                   # last label is neither svc nor pod
    "nginx.default.svc.cluster.local.svc.cluster.local",             # a search-path probe: too long
    "nginx.default.svc.cluster.local.default.svc.cluster.local",
    "a.b._http._tcp.web.ns.svc.cluster.local",
])
def test_parse_request_rejects_names_that_cannot_exist(name: str) -> None:
    with pytest.raises(InvalidName):
        names.parse_request(name, Z)


@pytest.mark.parametrize(("label", "ip"), [
    ("10-42-0-5", "10.42.0.5"),
    ("fd00-10-244--5", "fd00:10:244::5"),
    ("10-42-0", ""),
    ("not-an-ip", ""),
    ("999-1-1-1", ""),
])
def test_pod_ip_from_label(label: str, ip: str) -> None:
    assert names.pod_ip_from_label(label) == ip


@pytest.mark.parametrize(("ip", "label"), [("10.42.0.5", "10-42-0-5"), ("fd00::5", "fd00--5"), ("fd00::", "fd00--0")])
def test_endpoint_label(ip: str, label: str) -> None:
    assert names.endpoint_label(ip) == label


@pytest.mark.parametrize(("name", "ip"), [
    ("5.0.42.10.in-addr.arpa", "10.42.0.5"),
    ("0.42.10.in-addr.arpa", ""),
    ("300.0.42.10.in-addr.arpa", ""),
    ("5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "fd00::5"),
    ("5.ip6.arpa", ""),
    ("example.com", ""),
])
def test_address_from_reverse(name: str, ip: str) -> None:
    assert names.address_from_reverse(name) == ip


def test_reverse_name_round_trips() -> None:
    for ip in ("10.43.0.10", "fd00::1"):
        assert names.address_from_reverse(names.reverse_name(ip)) == ip


@pytest.mark.parametrize(("name", "zone", "inside"), [
    ("cluster.local", Z, True), ("a.cluster.local", Z, True), ("acluster.local", Z, False), ("local", Z, False)])
def test_in_zone(name: str, zone: str, inside: bool) -> None:
    assert names.in_zone(name, zone) is inside
