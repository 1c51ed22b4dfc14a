from __future__ import annotations

from typing import Any

import pytest

from pybernetes.dns.publish import dns_endpoint_slice, node_ready, readiness_patches, slice_name


def node(name: str, ready: str | None) -> dict[str, Any]:
    conds = [] if ready is None else [{"type": "Ready", "status": ready}]
    return {"metadata": {"name": name}, "status": {"conditions": conds}}


def test_the_slice_makes_the_node_an_endpoint_of_kube_dns() -> None:
    sl = dns_endpoint_slice(node="node1", ip="10.42.1.1", ready=True, node_uid="u-1")
    assert sl["metadata"]["name"] == slice_name("node1") == "kube-dns-node1"
    assert sl["metadata"]["namespace"] == "kube-system"
    assert sl["metadata"]["labels"] == {"kubernetes.io/service-name": "kube-dns",
                                        "endpointslice.kubernetes.io/managed-by": "pybernetes-agent"}
    assert sl["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "node1", "uid": "u-1"}]
    assert sl["addressType"] == "IPv4"
    assert sl["endpoints"] == [{"addresses": ["10.42.1.1"], "nodeName": "node1",
                                "conditions": {"ready": True, "serving": True, "terminating": False}}]
    assert sl["ports"] == [{"name": "dns", "port": 53, "protocol": "UDP"},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                           {"name": "metrics", "port": 9153, "protocol": "TCP"}]
    assert "ownerReferences" not in dns_endpoint_slice(node="n", ip="fd00::1", ready=False)["metadata"]
    assert dns_endpoint_slice(node="n", ip="fd00::1", ready=False)["addressType"] == "IPv6"


@pytest.mark.parametrize(("ready", "want"), [("True", True), ("False", False), ("Unknown", False), (None, False)])
def test_node_ready(ready: str | None, want: bool) -> None:
    assert node_ready(node("n", ready)) is want
    assert node_ready(None) is False


def test_readiness_follows_each_slice_s_node() -> None:
    slices = [dns_endpoint_slice(node=n, ip=f"10.42.{i}.1", ready=r)
              for i, (n, r) in enumerate([("a", True), ("b", True), ("c", False), ("d", True), ("e", False)])]
    nodes = {"a": node("a", "True"), "b": node("b", "Unknown"), "c": node("c", "True"), "e": node("e", "False")}
    assert readiness_patches(slices, nodes) == [("kube-dns-b", False), ("kube-dns-c", True), ("kube-dns-d", False)]
