"""/etc/hosts, /etc/hostname and /etc/resolv.conf for pods (upstream kubelet_pods.go and network/dns)."""

from __future__ import annotations

import pytest

from pybernetes.kubelet.network.dnsfiles import (
    HOSTS_BOILERPLATE,
    ResolvConf,
    hostname_file,
    hosts_file,
    merge_options,
    parse_resolv_conf,
    pod_dns,
    pod_hostname_and_domain,
    resolv_conf,
)

HOST = "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example. lab.example\noptions rotate timeout:2\n"


def pod(**spec: object) -> dict:
    return {"metadata": {"name": "web-0", "namespace": "shop"}, "spec": dict(spec)}


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, ("web-0", "")),
    ({"hostname": "h1"}, ("h1", "")),
    ({"hostname": "h1", "subdomain": "web"}, ("h1", "web.shop.svc.cluster.local")),
    ({"subdomain": "web"}, ("web-0", "web.shop.svc.cluster.local")),
])
def test_hostname_and_domain(spec: dict, expected: tuple[str, str]) -> None:
    assert pod_hostname_and_domain(pod(**spec)) == expected


def test_long_pod_name_is_cut_to_63_without_trailing_dash() -> None:
    p = {"metadata": {"name": "a" * 62 + "-b" + "c" * 10, "namespace": "n"}, "spec": {}}
    assert pod_hostname_and_domain(p)[0] == "a" * 62


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, "web-0\n"),
    ({"subdomain": "web", "setHostnameAsFQDN": True}, "web-0.web.shop.svc.cluster.local\n"),
    ({"setHostnameAsFQDN": True}, "web-0\n"),
    ({"hostNetwork": True}, "node-1\n"),
])
def test_hostname_file(spec: dict, expected: str) -> None:
    assert hostname_file(pod(**spec), node_hostname="node-1") == expected


def test_hosts_file_plain() -> None:
    assert hosts_file(pod(), pod_ips=["10.42.0.7"]) == (
        "# Kubernetes-managed hosts file.\n" + HOSTS_BOILERPLATE + "10.42.0.7\tweb-0\n")


def test_hosts_file_subdomain_dual_stack_and_aliases() -> None:
    p = pod(hostname="h", subdomain="web", hostAliases=[{"ip": "127.0.0.1", "hostnames": ["foo.local", "bar.local"]},
                                                      {"ip": "10.1.2.3", "hostnames": ["foo.remote"]}])
    assert hosts_file(p, pod_ips=["10.42.0.7", "fd00::7"]) == (
        "# Kubernetes-managed hosts file.\n" + HOSTS_BOILERPLATE +
        "10.42.0.7\th.web.shop.svc.cluster.local\th\n"
        "fd00::7\th.web.shop.svc.cluster.local\th\n"
        "\n# Entries added by HostAliases.\n"
        "127.0.0.1\tfoo.local\tbar.local\n"
        "10.1.2.3\tfoo.remote\n")


def test_hosts_file_host_network() -> None:
    p = pod(hostNetwork=True, hostAliases=[{"ip": "10.0.0.1", "hostnames": ["x"]}])
    assert hosts_file(p, pod_ips=["192.0.2.1"], node_hosts="127.0.0.1 localhost") == (
        "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"
        "\n# Entries added by HostAliases.\n10.0.0.1\tx\n")


def test_parse_resolv_conf() -> None:
    text = ("# comment\nnameserver 1.1.1.1\ndomain x\nsearch a.example b.example\nsearch c.example. .\n"
            "nameserver 2.2.2.2 ; trailing\noptions ndots:2\noptions edns0\n")
    assert parse_resolv_conf(text) == ResolvConf(("1.1.1.1", "2.2.2.2"), ("c.example",), ("ndots:2", "edns0"))


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
         "nameserver 10.43.0.10\noptions ndots:5\n"),
    ({"dnsPolicy": "ClusterFirst", "hostNetwork": True},
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions rotate timeout:2\n"),
    ({"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": True},
     "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
     "nameserver 10.43.0.10\noptions ndots:5\n"),
    ({"dnsPolicy": "Default"},
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions rotate timeout:2\n"),
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.2.3.4"], "searches": ["ns1.svc.cluster-domain.example"],
                                         "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}},
     "search ns1.svc.cluster-domain.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n"),
    ({"dnsPolicy": "None"}, ""),
    # dnsConfig appended to ClusterFirst: duplicates dropped, options merged by name
    ({"dnsConfig": {"nameservers": ["10.43.0.10", "8.8.8.8"], "searches": ["cluster.local", "extra.example"],
                    "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}]}},
     "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example extra.example\n"
     "nameserver 10.43.0.10\nnameserver 8.8.8.8\noptions ndots:1 single-request\n"),
])
def test_resolv_conf_policies(spec: dict, expected: str) -> None:
    assert resolv_conf(pod(**spec), host_resolv_conf=HOST) == expected


def test_no_cluster_dns_falls_back_to_default() -> None:
    result = pod_dns(pod(), host=parse_resolv_conf(HOST), cluster_dns=())
    assert result.conf.nameservers == ("192.0.2.53", "192.0.2.54")
    assert 'Falling back to "Default" policy' in result.warnings[0]


def test_limits() -> None:
    p = pod(dnsPolicy="None", dnsConfig={"nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"],
                                         "searches": [f"s{i}.example" for i in range(40)] + ["x" * 300]})
    result = pod_dns(p, host=ResolvConf())
    assert result.conf.nameservers == ("1.1.1.1", "2.2.2.2", "3.3.3.3")
    assert len(result.conf.searches) == 32
    assert result.warnings[0].startswith("Nameserver limits were exceeded")
    assert result.warnings[1].startswith("Search Line limits were exceeded, some search paths have been omitted, "
                                         "the applied search line is: s0.example s1.example")
    long = pod(dnsPolicy="None", dnsConfig={"searches": [f"{i:02d}" + "d" * 198 for i in range(12)]})
    fitted = pod_dns(long, host=ResolvConf()).conf.searches
    assert len(fitted) == 10 and len(" ".join(fitted)) <= 2048


def test_merge_options() -> None:
    assert merge_options(["ndots:5", "rotate"], [{"name": "ndots", "value": "2"}, {"name": "edns0"}]) == [
        "ndots:2", "rotate", "edns0"]
